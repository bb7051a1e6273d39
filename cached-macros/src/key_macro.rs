//! `cache_key!("posts:author:{author_id}")`: a key template rendered where it is written,
//! its placeholders naming variables in scope (and their fields), as `format!` captures
//! them. Rendered and escaped exactly as `#[cached]` keys are, so a key built here matches
//! the entry of a function whose template reads the same.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Ident, LitStr};

use crate::errors::Errors;
use crate::template::Template;

/// The expansion of `cache_key!(input)`: a `Result<String, RenderError>` expression.
pub(crate) fn expand(input: TokenStream, errors: &mut Errors) -> Option<TokenStream> {
    let lit: LitStr = match syn::parse2(input) {
        Ok(lit) => lit,
        Err(error) => {
            errors.at(
                error.span(),
                "`cache_key!` takes one key template, e.g. `cache_key!(\"posts:author:{author_id}\")`",
            );
            return None;
        }
    };
    let template = Template::parse(&lit, errors)?;
    let span = lit.span();
    Some(
        template.render(&quote!(::cached_core), "finish", |placeholder| {
            let root = if placeholder.root == "self" {
                let this = syn::token::SelfValue(span);
                quote!(#this)
            } else {
                let root = Ident::new(&placeholder.root, span);
                quote!(#root)
            };
            let fields = placeholder.field_path(span);
            quote!(&#root #fields)
        }),
    )
}
