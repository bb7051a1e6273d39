//! The Lua scripts of the Redis store, each atomic on the server. redis-rs sends them by
//! digest (`EVALSHA`) and loads them on a `NOSCRIPT` reply, so each travels once per server.
//!
//! A key being loaded holds a lease marker (see `lease.rs`) in its value's place. The
//! scripts that answer for values (`EXISTS`, `PTTL`, `SET NX`, `INCRBY`) treat a marker as
//! an absent key, so that a load in flight is invisible to the cache API.

use std::sync::LazyLock;

use redis::Script;

/// Lua: whether the string key `KEYS[1]` holds a lease marker (`lease.rs`'s `PREFIX`).
macro_rules! is_lease {
    () => {
        r"
        local function is_lease(key)
            local marker = '\0cached:lease:'
            return redis.call('TYPE', key)['ok'] == 'string'
                and redis.call('GETRANGE', key, 0, #marker - 1) == marker
        end
        "
    };
}

/// Deletes `KEYS[1]` only while it holds `ARGV[1]`: a lock's holder releases its own lock,
/// never the one the next holder took after it expired; a load gives up its own lease only.
pub(crate) static DELETE_IF_EQUALS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.pcall('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
        end
        return 0
        ",
    )
});

/// A load's claim on `KEYS[1]`: the value it holds, or, when it holds nothing (or another
/// Redis type, which `SET` replaces anyway, or exactly `ARGV[3]`, a value the caller could
/// not use), the lease marker `ARGV[1]` for `ARGV[2]` milliseconds and nil.
pub(crate) static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local current = redis.pcall('GET', KEYS[1])
        if type(current) == 'table' then
            current = false
        end
        if current == false or current == ARGV[3] then
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            return false
        end
        return current
        ",
    )
});

/// A load's fill: stores `ARGV[2]` for `ARGV[3]` milliseconds only while `KEYS[1]` holds
/// the load's lease marker `ARGV[1]`; 1 when stored. An invalidation removed the marker
/// with the key, and a newer write replaced it, so neither is ever overwritten.
pub(crate) static FILL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.pcall('GET', KEYS[1]) == ARGV[1] then
            redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
            return 1
        end
        return 0
        ",
    )
});

/// `EXISTS`, a lease counting as absent.
pub(crate) static EXISTS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        is_lease!(),
        r"
        if is_lease(KEYS[1]) then
            return 0
        end
        return redis.call('EXISTS', KEYS[1])
        "
    ))
});

/// `PTTL`, a lease counting as absent (-2).
pub(crate) static PTTL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        is_lease!(),
        r"
        if is_lease(KEYS[1]) then
            return -2
        end
        return redis.call('PTTL', KEYS[1])
        "
    ))
});

/// `SET KEYS[1] ARGV[1] NX PX ARGV[2]`, a lease counting as absent (and replaced, so that
/// the load holding it does not store over this write); 1 when stored.
pub(crate) static SET_NX: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        is_lease!(),
        r"
        if redis.call('EXISTS', KEYS[1]) == 0 or is_lease(KEYS[1]) then
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            return 1
        end
        return 0
        "
    ))
});

/// `INCRBY` for a key that plain `INCRBY` refuses: a lease counts as absent (the counter
/// starts at 0 without expiry, as for a missing key), and a counter held as a JSON string
/// holding an integer in canonical form (`"41"`, as `value.rs`'s `canonical_integer` reads
/// it on the memory backend) is rewritten as the bare integer, keeping its expiry, then
/// incremented (and restored if that fails). Anything else gets `INCRBY`'s own "not an
/// integer" error. The result is returned as the stored string, never through a Lua number,
/// which is a double and would round counters past 2^53.
pub(crate) static INCR_QUOTED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        is_lease!(),
        r#"
        if is_lease(KEYS[1]) then
            redis.call('DEL', KEYS[1])
            redis.call('INCRBY', KEYS[1], ARGV[1])
            return redis.call('GET', KEYS[1])
        end
        local current = redis.call('GET', KEYS[1])
        if current then
            local sign, digits = string.match(current, '^"(%-?)(%d+)"$')
            if digits and (digits == '0' and sign == '' or string.sub(digits, 1, 1) ~= '0') then
                redis.call('SET', KEYS[1], sign .. digits, 'KEEPTTL')
                local result = redis.pcall('INCRBY', KEYS[1], ARGV[1])
                if type(result) == 'table' and result.err then
                    redis.call('SET', KEYS[1], current, 'KEEPTTL')
                    return result
                end
                return redis.call('GET', KEYS[1])
            end
        end
        return redis.call('INCRBY', KEYS[1], ARGV[1])
        "#
    ))
});

/// Adds `ARGV[1]` to each tag set in `KEYS` and keeps each at least `ARGV[2]` milliseconds,
/// the life of the entry it now names (never shortening it).
pub(crate) static TAG: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local ttl = tonumber(ARGV[2])
        for _, set in ipairs(KEYS) do
            redis.call('SADD', set, ARGV[1])
            local left = redis.call('PTTL', set)
            if left < ttl then
                redis.call('PEXPIRE', set, ttl)
            end
        end
        return 1
        ",
    )
});

/// The members of the tag set `KEYS[1]`, the set removed in the same step, so that a key
/// added afterwards stays for the next invalidation of the tag.
pub(crate) static TAKE_TAG: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local ok, members = pcall(redis.call, 'SMEMBERS', KEYS[1])
        if not ok then
            members = {}
        end
        redis.call('DEL', KEYS[1])
        return members
        ",
    )
});
