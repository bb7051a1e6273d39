//! Refusals an operator must act on: Redis answers, but will not do what the cache asks.
//! Calls still fail open (a read is a miss, a write is skipped, each counted as an error),
//! and each cause is logged at `warn` the first time a cache meets it, with the server's
//! own message and what to change, so that a misconfigured deployment shows up in the logs
//! once rather than in every call, nor only at `debug`.

use std::sync::atomic::{AtomicU8, Ordering};

use redis::RedisError;

use crate::LOG_TARGET;

/// Why Redis refuses, and what the operator can do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// `NOPERM`: the cache's user lacks a command (scripts, `UNLINK`, `CLIENT`) or its keys.
    NoPermission,
    /// `READONLY`: the cache points at a replica.
    ReadOnly,
    /// `OOM`: `maxmemory` reached under `maxmemory-policy noeviction`.
    OutOfMemory,
    /// `MISCONF`: the server stopped taking writes after failing to persist.
    Misconfigured,
}

impl Refusal {
    /// The refusal `error` is, if it is one.
    pub(super) fn of(error: &RedisError) -> Option<Self> {
        Some(match error.code()? {
            "NOPERM" => Refusal::NoPermission,
            "READONLY" => Refusal::ReadOnly,
            "OOM" => Refusal::OutOfMemory,
            "MISCONF" => Refusal::Misconfigured,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    fn advice(self) -> &'static str {
        match self {
            Refusal::NoPermission => {
                "the cache's Redis user lacks a permission it needs: grant it +@read +@write \
                 +@keyspace +@scripting (and +client|tracking for a near cache) on the cache's keys"
            }
            Refusal::ReadOnly => {
                "the cache points at a read-only replica: point it at the primary (or the cluster)"
            }
            Refusal::OutOfMemory => {
                "Redis is full and evicts nothing (maxmemory-policy noeviction): use \
                 allkeys-lru or volatile-lru for a cache, or raise maxmemory"
            }
            Refusal::Misconfigured => {
                "Redis stopped taking writes after failing to persist: fix its disk or \
                 persistence settings"
            }
        }
    }
}

/// The refusals a cache has logged.
#[derive(Default)]
pub(super) struct Refusals {
    logged: AtomicU8,
}

impl Refusals {
    /// Logs `error` at `warn` if it is a refusal this cache has not logged yet.
    pub(super) fn note(&self, cache: &str, node: &str, error: &RedisError) {
        let Some(refusal) = Refusal::of(error) else {
            return;
        };
        if self.logged.fetch_or(refusal.bit(), Ordering::Relaxed) & refusal.bit() == 0 {
            tracing::warn!(target: LOG_TARGET, %cache, %node, %error, "Redis refuses the cache's commands ({refusal:?}): {}; calls fail open meanwhile, each counted as an error (logged once)", refusal.advice());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_has_a_bit_of_its_own() {
        let all = [
            Refusal::NoPermission,
            Refusal::ReadOnly,
            Refusal::OutOfMemory,
            Refusal::Misconfigured,
        ];
        let bits: u8 = all.iter().map(|r| r.bit()).fold(0, |a, b| a | b);
        assert_eq!(bits.count_ones(), 4);
    }
}
