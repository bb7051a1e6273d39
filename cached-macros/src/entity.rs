//! `#[derive(CachedEntity)]`: parses `#[cache(key = "user:{id}", ttl = 600, cache = "...",
//! invalidates = [...], tags = [...])]` on a struct with named fields, checks every
//! placeholder against the fields, and implements `cached_core::CachedEntity` plus the
//! inherent `cache_key_for` and `cached_get`, whose parameters are the key's fields.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt as _;
use syn::parse::ParseStream;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Token, Type};

use crate::attr;
use crate::errors::Errors;
use crate::template::{Placeholder, Template};

const OPTIONS: &[&str] = &["key", "ttl", "cache", "invalidates", "tags"];

#[derive(Default)]
struct Args {
    key: Option<LitStr>,
    ttl: Option<std::time::Duration>,
    cache: Option<LitStr>,
    invalidates: Vec<LitStr>,
    tags: Vec<LitStr>,
}

/// The derive's output, or `None` when an error was reported.
pub(crate) fn derive(input: &DeriveInput, errors: &mut Errors) -> Option<TokenStream> {
    let fields = named_fields(input, errors)?;
    let args = parse_args(input, errors);
    let Some(key_lit) = &args.key else {
        errors.at(
            Span::call_site(),
            "`#[derive(CachedEntity)]` needs `#[cache(key = \"...\")]`, e.g. `#[cache(key = \"user:{id}\", ttl = 600)]`",
        );
        return None;
    };
    let key = Template::parse(key_lit, errors)?;
    let mut key_fields: Vec<(Ident, Type)> = Vec::new();
    for placeholder in key.placeholders() {
        let Some(ty) = field_type(&fields, placeholder, key_lit, errors) else {
            continue;
        };
        if !placeholder.fields.is_empty() {
            errors.at(
                key_lit.span(),
                format!(
                    "`{}`: an entity's key names its own fields, not fields of them, so that `cached_get` can take them",
                    placeholder.written
                ),
            );
        } else if !key_fields.iter().any(|(name, _)| name == &placeholder.root) {
            key_fields.push((Ident::new(&placeholder.root, key_lit.span()), ty));
        }
    }
    let mut invalidates = Vec::new();
    for lit in args.invalidates.iter().chain(&args.tags) {
        let Some(template) = Template::parse(lit, errors) else {
            continue;
        };
        for placeholder in template.placeholders() {
            field_type(&fields, placeholder, lit, errors);
        }
        invalidates.push(template);
    }
    if !errors.is_empty() {
        return None;
    }
    let (templates, tags) = invalidates.split_at(args.invalidates.len());
    Some(expand(input, &args, &key, &key_fields, templates, tags))
}

fn expand(
    input: &DeriveInput,
    args: &Args,
    key: &Template,
    key_fields: &[(Ident, Type)],
    invalidates: &[Template],
    tags: &[Template],
) -> TokenStream {
    let name = &input.ident;
    let vis = &input.vis;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let krate = quote!(::cached_core);
    let cache = args
        .cache
        .as_ref()
        .map_or_else(|| "default".to_owned(), LitStr::value);
    let ttl = match args.ttl {
        Some(ttl) => {
            let (secs, nanos) = (ttl.as_secs(), ttl.subsec_nanos());
            quote!(::core::option::Option::Some(::core::time::Duration::new(#secs, #nanos)))
        }
        None => quote!(::core::option::Option::None),
    };
    let on_self = |placeholder: &Placeholder| {
        let root = Ident::new(&placeholder.root, Span::call_site());
        let fields = placeholder.field_path(Span::call_site());
        quote!(&self.#root #fields)
    };
    let own_key = key.render(&krate, "finish", on_self);
    let keys = invalidates
        .iter()
        .filter(|template| !template.is_pattern())
        .map(|template| template.render(&krate, "finish", on_self));
    let patterns = invalidates
        .iter()
        .filter(|template| template.is_pattern())
        .map(|template| template.render(&krate, "finish", on_self));
    let tags = tags
        .iter()
        .map(|template| template.render(&krate, "finish", on_self));
    let params = key_fields.iter().map(|(ident, ty)| {
        let ty = borrowed(ty);
        quote!(#ident: &#ty)
    });
    let param_names: Vec<&Ident> = key_fields.iter().map(|(ident, _)| ident).collect();
    let key_for = key.render(&krate, "finish", |placeholder| {
        let ident = Ident::new(&placeholder.root, Span::call_site());
        quote!(#ident)
    });
    let (error, loader, future) = (
        format_ident!("__E"),
        format_ident!("__F"),
        format_ident!("__Fut"),
    );
    let loader_arg = Ident::new("loader", Span::mixed_site());
    let params_again = params.clone();
    quote! {
        impl #impl_generics #krate::CachedEntity for #name #ty_generics #where_clause {
            const CACHE: &'static str = #cache;
            const TTL: ::core::option::Option<::core::time::Duration> = #ttl;

            fn cache_key(&self) -> ::core::result::Result<::std::string::String, #krate::key::RenderError> {
                #own_key
            }

            fn invalidations(&self) -> #krate::entity::Invalidations {
                #krate::entity::Invalidations {
                    keys: ::std::vec![#(#keys),*],
                    patterns: ::std::vec![#(#patterns),*],
                    tags: ::std::vec![#(#tags),*],
                }
            }
        }

        impl #impl_generics #name #ty_generics #where_clause {
            /// The cache key of the object with these key fields.
            #vis fn cache_key_for(#(#params),*) -> ::core::result::Result<::std::string::String, #krate::key::RenderError> {
                #key_for
            }

            /// The object with these key fields, from the cache, or found by `loader` (and
            /// then stored; concurrent misses run `loader` once). `Ok(None)` is not cached.
            #vis async fn cached_get<#error, #loader, #future>(#(#params_again,)* #loader_arg: #loader) -> ::core::result::Result<::core::option::Option<Self>, #error>
            where
                #loader: ::core::ops::FnOnce() -> #future,
                #future: ::core::future::Future<Output = ::core::result::Result<::core::option::Option<Self>, #error>>,
            {
                #krate::entity::cached_get::<Self, #error, #loader, #future>(Self::cache_key_for(#(#param_names),*), #loader_arg).await
            }
        }
    }
}

/// The type a key parameter is taken as: `str` for a `String` field (so that callers pass
/// `&str`), the field's type otherwise. Both render the same key.
fn borrowed(ty: &Type) -> TokenStream {
    match ty {
        Type::Path(path) if path.qself.is_none() && path.path.is_ident("String") => quote!(str),
        _ => quote!(#ty),
    }
}

fn named_fields(input: &DeriveInput, errors: &mut Errors) -> Option<Vec<(Ident, Type)>> {
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => Some(
                named
                    .named
                    .iter()
                    .filter_map(|field| Some((field.ident.clone()?, field.ty.clone())))
                    .collect(),
            ),
            _ => {
                errors.at(
                    input.ident.span(),
                    "`#[derive(CachedEntity)]` needs a struct with named fields: its key names them",
                );
                None
            }
        },
        _ => {
            errors.at(
                input.ident.span(),
                "`#[derive(CachedEntity)]` applies to structs with named fields",
            );
            None
        }
    }
}

/// The type of the field a placeholder names, or `None` (reported on `lit`).
fn field_type(
    fields: &[(Ident, Type)],
    placeholder: &Placeholder,
    lit: &LitStr,
    errors: &mut Errors,
) -> Option<Type> {
    match fields.iter().find(|(name, _)| name == &placeholder.root) {
        Some((_, ty)) => Some(ty.clone()),
        None => {
            let names: Vec<String> = fields.iter().map(|(name, _)| format!("`{name}`")).collect();
            errors.at(
                lit.span(),
                format!(
                    "`{}` names no field; the fields are {}",
                    placeholder.written,
                    names.join(", ")
                ),
            );
            None
        }
    }
}

fn parse_args(input: &DeriveInput, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    for attribute in input.attrs.iter().filter(|a| a.path().is_ident("cache")) {
        let parser = |stream: ParseStream<'_>| {
            while !stream.is_empty() {
                let name = stream.call(Ident::parse_any)?;
                match name.to_string().as_str() {
                    "key" => {
                        stream.parse::<Token![=]>()?;
                        args.key = Some(stream.parse()?);
                    }
                    "ttl" => args.ttl = attr::parse_duration(stream, "ttl", errors)?,
                    "cache" => args.cache = Some(attr::cache_name(stream, errors)?),
                    "invalidates" => args.invalidates.extend(attr::tag_list(stream)?),
                    "tags" => args.tags.extend(attr::tag_list(stream)?),
                    _ => attr::unknown(&name, stream, OPTIONS, errors)?,
                }
                attr::comma(stream)?;
            }
            Ok(())
        };
        if let Err(error) = attribute.parse_args_with(parser) {
            errors.push(error);
        }
    }
    for tag in &args.tags {
        if tag.value().contains(['*', '?']) {
            errors.at(
                tag.span(),
                "a tag is a name, not a pattern: `*` and `?` have no meaning in it",
            );
        }
    }
    args
}
