//! What the `#[cached]` and `#[invalidates]` expansions call. Not a public API: anything
//! here may change in any release.
