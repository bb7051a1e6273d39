//! The Lua scripts of the Redis store, each atomic on the server. redis-rs sends them by
//! digest (`EVALSHA`) and loads them on a `NOSCRIPT` reply, so each travels once per server.

use std::sync::LazyLock;

use redis::Script;

/// Deletes `KEYS[1]` only while it holds `ARGV[1]`: a lock's holder releases its own lock,
/// never the one the next holder took after it expired.
pub(crate) static DELETE_IF_EQUALS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
        end
        return 0
        ",
    )
});

/// `INCRBY` for a counter stored as a JSON string holding an integer (`"41"`), which plain
/// `INCRBY` refuses: the string is rewritten as the bare integer, keeping its expiry, then
/// incremented (and restored if that fails). Anything else gets `INCRBY`'s own "not an
/// integer" error. The memory backend accepts such strings too, so both backends agree.
pub(crate) static INCR_QUOTED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
        local current = redis.call('GET', KEYS[1])
        if current then
            local sign, digits = string.match(current, '^"%s*([+-]?)(%d+)%s*"$')
            if digits then
                digits = string.gsub(digits, '^0+(%d)', '%1')
                if sign == '-' and digits ~= '0' then
                    digits = '-' .. digits
                end
                redis.call('SET', KEYS[1], digits, 'KEEPTTL')
                local result = redis.pcall('INCRBY', KEYS[1], ARGV[1])
                if type(result) == 'table' and result.err then
                    redis.call('SET', KEYS[1], current, 'KEEPTTL')
                end
                return result
            end
        end
        return redis.call('INCRBY', KEYS[1], ARGV[1])
        "#,
    )
});
