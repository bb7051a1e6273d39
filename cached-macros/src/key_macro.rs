//! `cache_key!("posts:author:{author_id}")`: a key template rendered where it is written,
//! its placeholders naming variables in scope (and their fields), as `format!` captures
//! them. Rendered and escaped exactly as `#[cached]` keys are, so a key built here matches
//! the entry of a function whose template reads the same.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Ident, LitStr};

use crate::errors::Errors;
use crate::template::{Part, Template};

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
    let k = Ident::new("__k", Span::mixed_site());
    let mut first = String::new();
    let mut steps = Vec::new();
    for (n, part) in template.parts.iter().enumerate() {
        match part {
            Part::Text(text) if n == 0 => first.clone_from(text),
            Part::Text(text) => steps.push(quote!(#k.text(#text);)),
            Part::Value(placeholder) => {
                let root = if placeholder.root == "self" {
                    let this = syn::token::SelfValue(span);
                    quote!(#this)
                } else {
                    let root = Ident::new(&placeholder.root, span);
                    quote!(#root)
                };
                let fields = placeholder
                    .fields
                    .iter()
                    .map(|field| match field.parse::<u32>() {
                        Ok(index) => {
                            let index = syn::Index { index, span };
                            quote!(.#index)
                        }
                        Err(_) => {
                            let field = Ident::new(field, span);
                            quote!(.#field)
                        }
                    });
                steps.push(quote!(#k.value(&#root #(#fields)*);));
            }
        }
    }
    Some(quote!({
        let mut #k = ::cached_core::__private::Key::new(#first);
        #(#steps)*
        #k.finish()
    }))
}
