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

/// Joins `ARGV[1]` to each tag in `KEYS` (a hash per tag: each member as a field `:<key>`,
/// and the tag's version `v` and creation time `c`, set when the tag is created, with
/// `ARGV[3]` as the version), keeping each at least `ARGV[2]` milliseconds, the life of the entry it now
/// names (never shortening it). A tag held as a set (the layout before versions) becomes a
/// hash with the same members. Returns, per tag, its version and its age in microseconds:
/// since its last invalidation (see `TAKE_TAG`), or, for a tag this join creates, 2^53
/// (older than any load).
pub(crate) static TAG: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local ttl = tonumber(ARGV[2])
        local clock = redis.call('TIME')
        local now = clock[1] * 1000000 + clock[2]
        local joined = {}
        for i, tag in ipairs(KEYS) do
            local kind = redis.call('TYPE', tag)['ok']
            if kind == 'set' then
                local members = redis.call('SMEMBERS', tag)
                redis.call('DEL', tag)
                for _, member in ipairs(members) do
                    redis.call('HSET', tag, ':' .. member, '1')
                end
            elseif kind ~= 'hash' and kind ~= 'none' then
                redis.call('DEL', tag)
            end
            local version = redis.call('HGET', tag, 'v')
            local created = tonumber(redis.call('HGET', tag, 'c') or '')
            if not version or not created then
                version = ARGV[3]
                created = now - 9007199254740992
                redis.call('HSET', tag, 'v', version, 'c', created)
            end
            redis.call('HSET', tag, ':' .. ARGV[1], '1')
            local left = redis.call('PTTL', tag)
            if left < ttl then
                redis.call('PEXPIRE', tag, ttl)
            end
            joined[i] = {version, math.max(now - created, 0)}
        end
        return joined
        ",
    )
});

/// The keys the tag `KEYS[1]` names, the tag replaced in the same step by a tombstone: no
/// members, a new version (`ARGV[1]`), and the time of this invalidation (`c`, in
/// microseconds of the server's clock, as `TAG` reads it), kept `ARGV[2]`
/// milliseconds (the life of a lease: a load that outlives it stores nothing anyway). So a
/// key joining afterwards joins the new version and stays for the next invalidation, and
/// a load that joins its tags after it ran (an entity's) sees that one was invalidated
/// meanwhile.
pub(crate) static TAKE_TAG: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local kind = redis.call('TYPE', KEYS[1])['ok']
        local members = {}
        if kind == 'hash' then
            for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
                if string.sub(field, 1, 1) == ':' then
                    members[#members + 1] = string.sub(field, 2)
                end
            end
        elseif kind == 'set' then
            members = redis.call('SMEMBERS', KEYS[1])
        end
        redis.call('DEL', KEYS[1])
        local clock = redis.call('TIME')
        local now = clock[1] * 1000000 + clock[2]
        redis.call('HSET', KEYS[1], 'v', ARGV[1], 'c', now)
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return members
        ",
    )
});

/// `GET` and `PTTL` of `KEYS[1]` for a cache whose entries may carry tag versions (see
/// `versions.rs`): an entry whose tags no longer hold the versions it was stored with (a
/// tag invalidated, or evicted by Redis) is removed and answered as absent, in the same
/// step. `ARGV[1]` is what tag keys start with (the cache's prefix and the tag prefix).
pub(crate) static READ_TAGGED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local value = redis.call('GET', KEYS[1])
        if not value then
            return {false, -2}
        end
        if #value >= 2 and string.byte(value, 1) == 2 then
            local count, at = string.byte(value, 2), 3
            for _ = 1, count do
                local high, low = string.byte(value, at, at + 1)
                if not low then
                    break
                end
                local tag = string.sub(value, at + 2, at + 1 + high * 256 + low)
                at = at + 2 + #tag
                local size = string.byte(value, at) or 0
                local version = string.sub(value, at + 1, at + size)
                at = at + 1 + size
                local held = redis.pcall('HGET', ARGV[1] .. tag, 'v')
                if held ~= version then
                    redis.pcall('DEL', KEYS[1])
                    return {false, -2}
                end
            end
        end
        return {value, redis.call('PTTL', KEYS[1])}
        ",
    )
});
