//! Attributes of the cached-core toolkit: `#[cached]` makes an async function cached and
//! `#[invalidates]` deletes the entries a mutating function changed.
//!
//! Use them through `cached_core`, which re-exports them next to the runtime they expand
//! into; their documentation is there.
//!
//! The crate parses the arguments (`attr`, `template`), checks them against the function's
//! signature (`check`), and generates the rewritten function (`expand`). Every error is
//! reported at once, spanned on the token at fault, next to the original function so that
//! the rest of the crate still type-checks.

mod attr;
mod check;
mod entity;
mod errors;
mod expand;
mod key_macro;
mod template;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use syn::ItemFn;

use crate::errors::Errors;

#[doc = include_str!("../docs/cached.md")]
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let Some(function) = parse_function(item.clone(), &mut errors) else {
        return with_original(errors, item);
    };
    let args = attr::parse_cached(args.into(), &mut errors);
    let checked = check::cached(&function, &args, &mut errors);
    match checked {
        Some((checked, spec, tags)) if errors.is_empty() => {
            expand::cached(&checked, &spec, &tags, &args).into()
        }
        _ => with_original(errors, item),
    }
}

#[doc = include_str!("../docs/invalidates.md")]
#[proc_macro_attribute]
pub fn invalidates(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let Some(function) = parse_function(item.clone(), &mut errors) else {
        return with_original(errors, item);
    };
    let args = attr::parse_invalidates(args.into(), &mut errors);
    let checked = check::invalidates(&function, &args, &mut errors);
    match checked {
        Some((checked, templates, tags)) if errors.is_empty() => {
            expand::invalidates(&checked, &templates, &tags, &args).into()
        }
        _ => with_original(errors, item),
    }
}

#[doc = include_str!("../docs/cache_key.md")]
#[proc_macro]
pub fn cache_key(input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    match key_macro::expand(input.into(), &mut errors) {
        Some(expanded) if errors.is_empty() => expanded.into(),
        _ => errors.into_compile_errors().unwrap_or_default().into(),
    }
}

/// Derives `cached_core::CachedEntity`; see its documentation.
#[proc_macro_derive(CachedEntity, attributes(cache))]
pub fn cached_entity(input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let expanded = match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => entity::derive(&input, &mut errors),
        Err(error) => {
            errors.push(error);
            None
        }
    };
    match expanded {
        Some(expanded) if errors.is_empty() => expanded.into(),
        _ => errors.into_compile_errors().unwrap_or_default().into(),
    }
}

fn parse_function(item: TokenStream, errors: &mut Errors) -> Option<ItemFn> {
    match syn::parse::<ItemFn>(item) {
        Ok(function) => Some(function),
        Err(error) => {
            errors.push(syn::Error::new(
                error.span(),
                format!("the attribute applies to `async fn`s: {error}"),
            ));
            None
        }
    }
}

/// The errors, then the item as the user wrote it, so that IDEs and the rest of the crate
/// keep working.
fn with_original(errors: Errors, item: TokenStream) -> TokenStream {
    let mut out: TokenStream2 = errors.into_compile_errors().unwrap_or_default();
    out.extend(TokenStream2::from(item));
    out.into()
}
