//! Attributes of the cached-core toolkit: `#[cached]` makes an async function cached and
//! `#[invalidates]` deletes the entries a mutating function changed.
//!
//! Use them through `cached_core`, which re-exports them next to the runtime they expand into.

use proc_macro::TokenStream;

/// Caches the result of an async function. See `cached_core::cached`.
#[proc_macro_attribute]
pub fn cached(_args: TokenStream, item: TokenStream) -> TokenStream {
    not_yet("cached", item)
}

/// Invalidates cache entries after a mutating function succeeds. See `cached_core::invalidates`.
#[proc_macro_attribute]
pub fn invalidates(_args: TokenStream, item: TokenStream) -> TokenStream {
    not_yet("invalidates", item)
}

/// Until the attributes land, using one is a compile error rather than a silent no-op.
fn not_yet(name: &str, item: TokenStream) -> TokenStream {
    let message = format!("#[{name}] is not available in this version of cached-macros");
    let mut out: TokenStream = quote::quote!(::core::compile_error!(#message);).into();
    out.extend(item);
    out
}
