//! Races between a load and an invalidation, for the "invalidation wins" tests: a reader
//! loads a key from a versioned source through one cache while a writer bumps the version
//! and invalidates the key through another cache (the same one, or another process's), at
//! random offsets; then nothing older than the write may be stored, and a call that starts
//! after the write returned must not get anything older either.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cached_core::Cache;
use tokio::sync::Notify;

use crate::SplitMix;

/// How a writer invalidates the key it changed.
#[derive(Clone, Copy, Debug)]
pub enum Invalidation {
    /// `delete` of the key.
    Delete,
    /// `delete_many` of the key and another.
    DeleteMany,
    /// `delete_pattern` of a pattern matching the key.
    Pattern,
    /// `clear`.
    Clear,
    /// Writes the new version itself: a newer write must win over an older load too.
    Set,
    /// `delete_tags` of a tag the reader gave the key before its load.
    Tag,
}

impl Invalidation {
    /// Every kind.
    pub const ALL: [Invalidation; 6] = [
        Invalidation::Delete,
        Invalidation::DeleteMany,
        Invalidation::Pattern,
        Invalidation::Clear,
        Invalidation::Set,
        Invalidation::Tag,
    ];

    /// The tag of `key` in a race of this kind.
    fn tag(key: &str) -> String {
        format!("tag:{key}")
    }

    async fn apply(self, cache: &Cache, key: &str, version: u64) {
        match self {
            Invalidation::Delete => drop(cache.delete(key).await.unwrap()),
            Invalidation::DeleteMany => drop(cache.delete_many(&[key, "other"]).await.unwrap()),
            Invalidation::Pattern => drop(cache.delete_pattern(&format!("{key}*")).await.unwrap()),
            Invalidation::Clear => cache.clear().await.unwrap(),
            Invalidation::Set => cache.set(key, &version, None).await.unwrap(),
            Invalidation::Tag => drop(cache.delete_tags(&[Self::tag(key)]).await.unwrap()),
        }
    }
}

/// A pause inside a load or before a write: a number of yields to the scheduler (exact and
/// repeatable on a current-thread runtime) or a busy-yielding wait of some microseconds
/// (finer than tokio's millisecond timer).
#[derive(Clone, Copy, Debug)]
pub enum Pause {
    /// Yields to the scheduler this many times.
    Yields(u32),
    /// Yields until this many microseconds have passed.
    Micros(u64),
}

impl Pause {
    async fn run(self) {
        match self {
            Pause::Yields(n) => {
                for _ in 0..n {
                    tokio::task::yield_now().await;
                }
            }
            Pause::Micros(us) => {
                let until = Instant::now() + Duration::from_micros(us);
                while Instant::now() < until {
                    tokio::task::yield_now().await;
                }
            }
        }
    }
}

/// What a series of races found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Races run.
    pub races: usize,
    /// Races whose write landed while the load was running (the load read the version
    /// before the write and returned after it).
    pub overlapped: usize,
    /// Races after which the cache held a version older than the write.
    pub stale_stored: usize,
    /// Races in which a call starting after the write returned got an older version.
    pub stale_after: usize,
}

/// The versioned source: one counter per key.
pub struct Source {
    versions: Vec<AtomicU64>,
    loads: AtomicUsize,
}

impl Source {
    /// Version 0 of `keys` keys.
    pub fn new(keys: usize) -> Self {
        Self {
            versions: (0..keys).map(|_| AtomicU64::new(0)).collect(),
            loads: AtomicUsize::new(0),
        }
    }

    /// The current version of key `i`.
    pub fn version(&self, i: usize) -> u64 {
        self.versions[i].load(Ordering::SeqCst)
    }

    /// How many loads ran.
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    /// A load of key `i`: reads the version, says so through `started`, pauses, and reports
    /// whether a write landed meanwhile.
    async fn load(
        &self,
        i: usize,
        pause: Pause,
        started: &Notify,
        overlapped: &AtomicUsize,
    ) -> u64 {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let version = self.version(i);
        started.notify_one();
        pause.run().await;
        if self.version(i) != version {
            overlapped.fetch_add(1, Ordering::SeqCst);
        }
        version
    }
}

/// The key of race `i` of the series `series`.
pub fn race_key(series: &str, i: usize) -> String {
    format!("race:{series}:{i}:")
}

/// Runs `source.versions.len()` races, one key each: on `reader` a `get_or_set` of the key
/// whose load pauses for `load_pause`; on `writer`, after `write_pause`, a version bump and
/// `invalidation`, followed at once by a `get_or_set` on `reader` that must not see an older
/// version. Pauses are drawn from `rng`; in every other race the writer first waits for the
/// load to start, so that half the writes land inside a load whatever the machine's speed.
/// With `parallel`, the read runs in a task of its own (on another thread of a multi-thread
/// runtime); otherwise the two interleave in one task, at their await points.
async fn run_races(
    reader: &Cache,
    writer: &Cache,
    source: &Arc<Source>,
    invalidation: Invalidation,
    rng: &mut SplitMix,
    parallel: bool,
    pause: impl Fn(u64) -> Pause,
) -> Tally {
    let overlapped = Arc::new(AtomicUsize::new(0));
    let unwatched = Notify::new();
    let mut tally = Tally::default();
    for i in 0..source.versions.len() {
        let key = race_key(&format!("{invalidation:?}"), i);
        let (load_pause, write_pause) = (pause(rng.next_u64()), pause(rng.next_u64()));
        let started = Arc::new(Notify::new());
        let read = {
            let (reader, source, overlapped, key, started) = (
                reader.clone(),
                Arc::clone(source),
                Arc::clone(&overlapped),
                key.clone(),
                Arc::clone(&started),
            );
            async move {
                if let Invalidation::Tag = invalidation {
                    let tag = Invalidation::tag(&key);
                    reader.tag(&key, &[tag], None).await.unwrap();
                }
                reader
                    .get_or_set(
                        &key,
                        || source.load(i, load_pause, &started, &overlapped),
                        Some(Duration::from_secs(60)),
                    )
                    .await
            }
        };
        let read = async move {
            if parallel {
                tokio::spawn(read).await.unwrap()
            } else {
                read.await
            }
        };
        let write = async {
            if i % 2 == 0 {
                started.notified().await;
            }
            write_pause.run().await;
            let version = source.versions[i].fetch_add(1, Ordering::SeqCst) + 1;
            invalidation.apply(writer, &key, version).await;
            let after = reader
                .get_or_set(
                    &key,
                    || source.load(i, Pause::Yields(0), &unwatched, &overlapped),
                    Some(Duration::from_secs(60)),
                )
                .await;
            (version, after)
        };
        let (_, (version, after)) = tokio::join!(read, write);
        tally.races += 1;
        if after < version {
            tally.stale_after += 1;
        }
        for cache in [reader, writer] {
            if let Some(stored) = cache.get::<u64>(&key).await.unwrap()
                && stored < version
            {
                tally.stale_stored += 1;
                break;
            }
        }
    }
    tally.overlapped = overlapped.load(Ordering::SeqCst);
    tally
}

/// A series of races on one pair of caches, one per invalidation kind, each of `races` keys;
/// pauses up to `pause` (its count of yields or microseconds), drawn from `seed`.
pub struct Series<'a> {
    /// Names the series in messages.
    pub name: &'a str,
    /// The cache the loads go through.
    pub reader: &'a Cache,
    /// The cache the writes and invalidations go through (the reader's, or another
    /// process's).
    pub writer: &'a Cache,
    /// Races per invalidation kind.
    pub races: usize,
    /// Whether each load runs in a task of its own.
    pub parallel: bool,
    /// The longest pause.
    pub pause: Pause,
    /// The seed of the pauses.
    pub seed: u64,
}

impl Series<'_> {
    /// Runs the races of every kind in `kinds` and asserts that none left or returned a stale
    /// value, and that writes did land inside loads (or nothing was tested).
    pub async fn assert_no_stale(&self, kinds: &[Invalidation]) {
        let mut rng = SplitMix::new(self.seed);
        let bound = self.pause;
        let pause = move |r: u64| match bound {
            Pause::Yields(n) => Pause::Yields((r % u64::from(n)) as u32),
            Pause::Micros(n) => Pause::Micros(r % n),
        };
        for &invalidation in kinds {
            let source = Arc::new(Source::new(self.races));
            let tally = run_races(
                self.reader,
                self.writer,
                &source,
                invalidation,
                &mut rng,
                self.parallel,
                pause,
            )
            .await;
            let what = format!("{}, {invalidation:?}", self.name);
            eprintln!("{what}: {tally:?}");
            assert_eq!(
                tally.stale_stored, 0,
                "{what}: stale values stored: {tally:?}"
            );
            assert_eq!(
                tally.stale_after, 0,
                "{what}: stale values returned after the write: {tally:?}"
            );
            assert!(
                tally.overlapped > 0,
                "{what}: no write landed inside a load, so nothing was tested: {tally:?}"
            );
        }
    }
}
