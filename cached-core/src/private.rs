//! What the `#[cached]` and `#[invalidates]` expansions call. Not a public API: anything
//! here may change in any release.

#[path = "private/cached.rs"]
mod cached;
#[path = "private/hit.rs"]
mod hit;
#[path = "private/invalidate.rs"]
mod invalidate;
#[path = "private/key.rs"]
mod key;
#[path = "private/site.rs"]
mod site;
#[path = "private/tags.rs"]
mod tags;

pub use cached::{
    Condition, IsResult, KeepErr, OwnErr, ShareErr, SharedErr, Sharing, cached, cached_fresh,
    condition, condition_ok,
};
pub use hit::{Pending, hit_now};
pub(crate) use invalidate::delete_all;
pub use invalidate::{Invalidation, invalidate_entry, is_ok};
pub use key::{Key, KeyResult, custom_key};
pub use site::Site;
pub use tags::Tags;

pub use crate::freshness::Freshness;
