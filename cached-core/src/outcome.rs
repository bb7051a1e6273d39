//! What stores answer: the outcomes of reads, writes and a load's claim and fill. Shared by
//! the dispatch (`store.rs`), the backends and the codec, which is why it sits below them.

use std::time::Duration;

use crate::codec::{DecodeError, EncodeError};
use crate::error::BackendError;

/// The outcome of a read.
pub(crate) enum Lookup<T> {
    Hit(T),
    Miss,
    /// A value is stored but does not decode as the type asked for.
    Undecodable(DecodeError),
}

/// A read that also tells the entry's age: what [`Freshness`](crate::Freshness) decides on.
pub(crate) struct Aged<T> {
    pub(crate) lookup: Lookup<T>,
    /// The entry's remaining lifetime; `None` when it never expires (or on a miss).
    pub(crate) left: Option<Duration>,
    /// The claim a background refresh of the entry fills under: on Redis the bytes read,
    /// which the refresh replaces only while the key still holds them.
    pub(crate) lease: Lease,
}

/// Why a store operation failed.
pub(crate) enum StoreError {
    Backend(BackendError),
    Encode(EncodeError),
}

impl From<BackendError> for StoreError {
    fn from(error: BackendError) -> Self {
        Self::Backend(error)
    }
}

/// What joining a key to its tags gave the write or load that follows.
#[derive(Clone, Debug, Default)]
pub(crate) struct Joined {
    /// On Redis, each tag with the version the entry is stored with, checked on every read
    /// (see `backend/redis/versions.rs`); empty elsewhere.
    pub(crate) versions: Vec<(String, String)>,
    /// How long ago the youngest of the tags was created: a tag created after a load began
    /// was invalidated (or evicted) while it ran. `None` without tags.
    pub(crate) youngest: Option<Duration>,
}

/// What a write did besides storing: entries evicted to make room.
pub(crate) type Evicted = u64;

/// The right of a load to fill its key, from [`Store::claim`].
pub(crate) enum Lease {
    /// An in-process claim: the load's flight, as long as no invalidation detaches it.
    Local,
    /// A Redis lease: the marker the key holds while a load runs (see
    /// `backend/redis/lease.rs`); an invalidation anywhere removes it with the key. `owned`
    /// is false for another process's marker, through which a load that tired of waiting
    /// for it stores (and which it never removes).
    #[cfg(feature = "redis")]
    Redis { marker: Vec<u8>, owned: bool },
    /// No right to fill: the store could not be asked, so the value is not stored.
    Denied,
}

/// What a load found when it claimed its key.
pub(crate) enum Claim<S> {
    /// A value arrived since the miss (and the caller accepts it).
    Found(S),
    /// Nothing usable is stored: load, and fill under this lease.
    Load(Lease),
    /// The store could not be asked: load, and do not store.
    Failed(BackendError),
}

/// How a fill went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Filled {
    /// The value is stored.
    Stored,
    /// The value is not stored (the caller chose not to, or the store could not be asked).
    Kept,
    /// An invalidation in this process detached the load: not stored. Every caller waiting
    /// on it arrived before that invalidation.
    Detached,
    /// The lease was lost: an invalidation or a newer write, perhaps in another process,
    /// came while the load ran. Not stored.
    Lost,
}
