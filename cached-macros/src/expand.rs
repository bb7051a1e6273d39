//! Code generation. The signature is kept as written; only the body is rewritten, and the
//! original body runs inside an `async move` block with a typed return edge, so that type
//! errors in it are reported on the user's code. Internal bindings are `mixed_site`, so an
//! argument named `key`, `cache` or `__site` never collides with them.

use std::collections::HashSet;

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens as _, format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{GenericParam, Generics, Ident, Type, WherePredicate};

use crate::attr::{CachedArgs, InvalidatesArgs, Mode};
use crate::check::{Arg, Function, KeySpec};
use crate::template::Template;

/// Input:
///
/// ```text
/// #[cached(ttl = 300)]
/// async fn get_user_posts(user_id: &str) -> Result<Vec<Post>, Error> { BODY }
/// ```
///
/// Output (paths shortened; `__`-names are `mixed_site`):
///
/// ```text
/// async fn get_user_posts(user_id: &str) -> Result<Vec<Post>, Error> {
///     let __site = { static SITE: Site = Site::new("crate::get_user_posts", "default"); &SITE };
///     let __key = { let mut __k = Key::new("get_user_posts:user_id="); __k.value(&*user_id); __k.finish() };
///     { use ...; (&Sharing::<Result<Vec<Post>, Error>>::new()).sharing() }
///         .cached(__site, __key, Some(Duration::new(300, 0)), always, async move { TYPED EDGE; BODY })
///         .await
/// }
/// // and the companions get_user_posts_cache_key(user_id: &str) and get_user_posts_invalidate(..)
/// ```
pub(crate) fn cached(
    function: &Function<'_>,
    spec: &KeySpec,
    tags: &[Template],
    args: &CachedArgs,
) -> TokenStream {
    let krate = krate(args.krate.as_ref());
    let item = function.item;
    let ((attrs, inner_attrs), vis, sig) = (split_attrs(function), &item.vis, &item.sig);
    let cache_name = args
        .cache
        .as_ref()
        .map_or_else(|| "default".to_owned(), syn::LitStr::value);
    let site = mixed("__site");
    let key = mixed("__key");
    let site_expr = site_static(&krate, &sig.ident, &cache_name);
    let key_expr = key_expr(&krate, function, spec, Access::Owned);
    let ttl = match args.ttl {
        Some(ttl) => {
            let ttl = duration(ttl);
            quote!(::core::option::Option::Some(#ttl))
        }
        None => quote!(::core::option::Option::None),
    };
    let ret = &function.ret;
    let ret_span = ret.span();
    let condition = match (&args.condition, function.mode) {
        (Some(condition), mode) => {
            let span = condition
                .to_token_stream()
                .into_iter()
                .next()
                .map_or_else(Span::call_site, |first| first.span());
            let check = match mode {
                Mode::Value => respan(quote!(#krate::__private::condition), span),
                Mode::Result => respan(quote!(#krate::__private::condition_ok), span),
            };
            let mut args = Group::new(Delimiter::Parenthesis, quote!(#condition));
            args.set_span(span);
            quote!(#check::<#ret, _> #args)
        }
        (None, _) => quote!(#krate::__private::Condition::always()),
    };
    let body = typed_body(function);
    let tags_binding = mixed("__tags");
    let tags_expr = {
        let rendered = tags
            .iter()
            .map(|tag| template_expr(&krate, function, tag, Access::Owned, false));
        quote!(::std::vec![#(#rendered),*])
    };
    let fresh = freshness(&krate, &args.freshness);
    let (args_group, entry) = match &fresh {
        Some(freshness) => (
            Group::new(
                Delimiter::Parenthesis,
                quote!(#site, #key, #ttl, #tags_binding, #freshness, #condition, #body),
            ),
            format_ident!("cached_fresh"),
        ),
        None => (
            Group::new(
                Delimiter::Parenthesis,
                quote!(#site, #key, #ttl, #tags_binding, #condition, #body),
            ),
            format_ident!("cached"),
        ),
    };
    let call = match function.mode {
        Mode::Value => spanned_call(quote!(#krate::__private::#entry), args_group, ret_span),
        Mode::Result => {
            let sharing = respan(quote!(#krate::__private::Sharing::<#ret>::new()), ret_span);
            let mut selector = Group::new(
                Delimiter::Brace,
                quote! {
                    #[allow(unused_imports)]
                    use #krate::__private::{KeepErr as _, ShareErr as _};
                    (&#sharing).sharing()
                },
            );
            selector.set_span(ret_span);
            let method = respan(quote!(.#entry), ret_span);
            let call = spanned_call(method, args_group, ret_span);
            quote!(#selector #call)
        }
    };
    let companions = match &args.companion {
        Some(flag) if !flag.value => TokenStream::new(),
        _ => companions(&krate, function, spec, &cache_name),
    };
    // A hit past its `ttl` refreshes: the freshness path does its own lookup.
    let hit = match fresh {
        Some(_) => TokenStream::new(),
        None => hit_now(&krate, function, &site, &key),
    };
    quote! {
        #attrs
        #vis #sig {
            #inner_attrs
            let #site = #site_expr;
            let #key = #key_expr;
            #hit
            let #tags_binding: #krate::__private::Tags = #tags_expr;
            #call
        }
        #companions
    }
}

/// Input:
///
/// ```text
/// #[invalidates("posts:all", "post:{post_id}", "posts:author:*")]
/// async fn update_post(post_id: Uuid, data: PostUpdate) -> Result<Post, Error> { BODY }
/// ```
///
/// Output (paths shortened; `__`-names are `mixed_site`):
///
/// ```text
/// async fn update_post(post_id: Uuid, data: PostUpdate) -> Result<Post, Error> {
///     let __site = { static SITE: Site = Site::new("crate::update_post", "default"); &SITE };
///     let mut __invalidation = Invalidation::new(__site);
///     __invalidation.key({ let mut __k = Key::new("posts:all"); __k.finish() });
///     __invalidation.key({ let mut __k = Key::new("post:"); __k.value(&post_id); __k.finish() });
///     __invalidation.pattern({ let mut __k = Key::new("posts:author:*"); __k.finish_pattern() });
///     let __out = async move { TYPED EDGE; BODY }.await;
///     if is_ok(&__out) { __invalidation.run().await; }
///     __out
/// }
/// ```
pub(crate) fn invalidates(
    function: &Function<'_>,
    templates: &[Template],
    tags: &[Template],
    args: &InvalidatesArgs,
) -> TokenStream {
    let krate = krate(args.krate.as_ref());
    let item = function.item;
    let ((attrs, inner_attrs), vis, sig) = (split_attrs(function), &item.vis, &item.sig);
    let cache_name = args
        .cache
        .as_ref()
        .map_or_else(|| "default".to_owned(), syn::LitStr::value);
    let site = mixed("__site");
    let invalidation = mixed("__invalidation");
    let out = mixed("__out");
    let site_expr = site_static(&krate, &sig.ident, &cache_name);
    let keys = templates.iter().map(|template| {
        let pattern = template.is_pattern();
        let rendered = template_expr(&krate, function, template, Access::Owned, pattern);
        if pattern {
            quote!(#invalidation.pattern(#rendered);)
        } else {
            quote!(#invalidation.key(#rendered);)
        }
    });
    let tags = tags.iter().map(|tag| {
        let rendered = template_expr(&krate, function, tag, Access::Owned, false);
        quote!(#invalidation.tag(#rendered);)
    });
    let body = typed_body(function);
    let succeeded = match function.mode {
        Mode::Result => {
            let is_ok = respan(quote!(#krate::__private::is_ok), function.ret.span());
            quote!(#is_ok(&#out))
        }
        Mode::Value => quote!(true),
    };
    quote! {
        #attrs
        #vis #sig {
            #inner_attrs
            let #site = #site_expr;
            let mut #invalidation = #krate::__private::Invalidation::new(#site);
            #(#keys)*
            #(#tags)*
            let #out = #body.await;
            if #succeeded {
                #invalidation.run().await;
            }
            #out
        }
    }
}

/// How the key code reaches an argument: in the function itself (owned, or a reference as
/// declared) or in a companion (where every key argument is a reference).
#[derive(Clone, Copy)]
enum Access {
    Owned,
    Borrowed,
}

/// A reference to `arg`, as `&T` for its declared `T` (or `&U` for a declared `&U`).
fn reference(arg: &Arg, access: Access) -> TokenStream {
    let ident = &arg.ident;
    match access {
        Access::Borrowed => quote!(#ident),
        Access::Owned if arg.is_reference() => quote!(&*#ident),
        Access::Owned => quote!(&#ident),
    }
}

/// The expression building a `#[cached]` function's key: `Result<String, RenderError>`.
fn key_expr(
    krate: &TokenStream,
    function: &Function<'_>,
    spec: &KeySpec,
    access: Access,
) -> TokenStream {
    match spec {
        KeySpec::Default(indices) => {
            let k = mixed("__k");
            let mut text = function.item.sig.ident.to_string();
            let mut steps = Vec::new();
            for (n, &i) in indices.iter().enumerate() {
                let arg = &function.args[i];
                let name = format!(":{}=", arg.ident);
                if n == 0 {
                    text.push_str(&name);
                } else {
                    steps.push(quote!(#k.text(#name);));
                }
                let value = Ident::new("value", arg.ty.span());
                let reference = reference(arg, access);
                steps.push(quote!(#k.#value(#reference);));
            }
            quote!({
                let mut #k = #krate::__private::Key::new(#text);
                #(#steps)*
                #k.finish()
            })
        }
        KeySpec::Template(template) => template_expr(krate, function, template, access, false),
        KeySpec::Func(path, indices) => {
            let refs = indices
                .iter()
                .map(|&i| reference(&function.args[i], access));
            let custom_key = respan(quote!(#krate::__private::custom_key), path.span());
            quote!(#custom_key(#path(#(#refs),*)))
        }
    }
}

/// The expression rendering `template`: `Result<String, RenderError>`.
fn template_expr(
    krate: &TokenStream,
    function: &Function<'_>,
    template: &Template,
    access: Access,
    pattern: bool,
) -> TokenStream {
    let span = template.lit.span();
    let finish = if pattern { "finish_pattern" } else { "finish" };
    template.render(krate, finish, |placeholder| {
        let fields = placeholder.field_path(span);
        if placeholder.root == "self" {
            let this = syn::token::SelfValue(function.receiver.unwrap_or(span));
            if placeholder.fields.is_empty() {
                quote!(#this)
            } else {
                quote!(&#this #fields)
            }
        } else {
            let arg = function
                .args
                .iter()
                .find(|arg| arg.ident == placeholder.root)
                .expect("placeholders are checked against the arguments");
            if placeholder.fields.is_empty() {
                reference(arg, access)
            } else {
                let ident = &arg.ident;
                quote!(&#ident #fields)
            }
        }
    })
}

/// `<name>_cache_key(...)` and `<name>_invalidate(...)`, next to the function: they take the
/// key arguments by reference and build the very key the function uses.
fn companions(
    krate: &TokenStream,
    function: &Function<'_>,
    spec: &KeySpec,
    cache_name: &str,
) -> TokenStream {
    let item = function.item;
    let name = &item.sig.ident;
    let vis = &item.vis;
    let cfgs = item
        .attrs
        .iter()
        .filter(|a| matches!(a.style, syn::AttrStyle::Outer))
        .filter(|a| a.path().is_ident("cfg") || a.path().is_ident("allow"));
    let cfgs = quote!(#(#cfgs)*);
    let (indices, with_self): (Vec<usize>, bool) = match spec {
        KeySpec::Default(indices) | KeySpec::Func(_, indices) => (indices.clone(), false),
        KeySpec::Template(template) => {
            let roots: HashSet<&str> = template.placeholders().map(|p| p.root.as_str()).collect();
            let indices = (0..function.args.len())
                .filter(|&i| roots.contains(function.args[i].ident.to_string().as_str()))
                .collect();
            (indices, roots.contains("self"))
        }
    };
    let params: Vec<TokenStream> = indices
        .iter()
        .map(|&i| {
            let arg = &function.args[i];
            let ident = &arg.ident;
            let ty = borrowed_type(&arg.ty);
            quote!(#ident: #ty)
        })
        .collect();
    let receiver = with_self.then(|| quote!(&self,));
    let generics = companion_generics(&item.sig.generics, &params);
    let where_clause = &generics.where_clause;
    let key_expr = key_expr(krate, function, spec, Access::Borrowed);
    let key_fn = format_ident!("{}_cache_key", name);
    let invalidate_fn = format_ident!("{}_invalidate", name);
    let site_expr = site_static(krate, name, cache_name);
    let key_doc = format!(
        "The key under which `{name}` caches its result for these arguments, in the cache `{cache_name}`. Generated by `#[cached]`."
    );
    let invalidate_doc = format!(
        "Deletes the entry `{name}` cached for these arguments from the cache `{cache_name}`; whether there was one. A cache failure is logged and counted, and reads as `false`. Generated by `#[cached]`."
    );
    let site = mixed("__site");
    let krate_key = quote!(#krate::key::RenderError);
    quote! {
        #[doc = #key_doc]
        #cfgs
        #[allow(dead_code, clippy::ptr_arg, clippy::needless_lifetimes)]
        #vis fn #key_fn #generics (#receiver #(#params),*) -> ::core::result::Result<::std::string::String, #krate_key> #where_clause {
            #key_expr
        }

        #[doc = #invalidate_doc]
        #cfgs
        #[allow(dead_code, clippy::ptr_arg, clippy::needless_lifetimes)]
        #vis async fn #invalidate_fn #generics (#receiver #(#params),*) -> bool #where_clause {
            let #site = #site_expr;
            #krate::__private::invalidate_entry(#site, #key_expr).await
        }
    }
}

/// `&T` for a declared `T`; a declared `&T` or `&mut T` as `&T`.
fn borrowed_type(ty: &Type) -> TokenStream {
    match ty {
        Type::Reference(reference) => {
            let (lifetime, elem) = (&reference.lifetime, &reference.elem);
            quote!(&#lifetime #elem)
        }
        Type::Group(group) => borrowed_type(&group.elem),
        Type::ImplTrait(_) | Type::TraitObject(_) => quote!(&(#ty)),
        other => quote!(&#other),
    }
}

/// The function's generics, without the type and const parameters that no key argument
/// mentions (they could not be inferred when calling the companion).
fn companion_generics(generics: &Generics, params: &[TokenStream]) -> Generics {
    let mut mentioned = HashSet::new();
    for param in params {
        idents(param.clone(), &mut mentioned);
    }
    let mut out = generics.clone();
    let mut dropped = HashSet::new();
    out.params = generics
        .params
        .iter()
        .filter(|param| {
            let name = match param {
                GenericParam::Type(t) => t.ident.to_string(),
                GenericParam::Const(c) => c.ident.to_string(),
                GenericParam::Lifetime(_) => return true,
            };
            let keep = mentioned.contains(&name);
            if !keep {
                dropped.insert(name);
            }
            keep
        })
        .cloned()
        .collect();
    if let Some(where_clause) = &mut out.where_clause {
        where_clause.predicates = where_clause
            .predicates
            .iter()
            .filter(|predicate: &&WherePredicate| {
                let mut names = HashSet::new();
                idents(quote!(#predicate), &mut names);
                names.is_disjoint(&dropped)
            })
            .cloned()
            .collect();
    }
    out
}

/// Every identifier in `tokens`.
fn idents(tokens: TokenStream, out: &mut HashSet<String>) {
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => {
                out.insert(ident.to_string());
            }
            TokenTree::Group(group) => idents(group.stream(), out),
            _ => {}
        }
    }
}

/// `{ static SITE: Site = Site::new("module::name", "cache"); &SITE }`: in its own block,
/// so that the `static` is visible to nothing else.
fn site_static(krate: &TokenStream, name: &Ident, cache: &str) -> TokenStream {
    let site = mixed("SITE");
    let path = format!("::{name}");
    quote!({
        static #site: #krate::__private::Site =
            #krate::__private::Site::new(::core::concat!(::core::module_path!(), #path), #cache);
        &#site
    })
}

/// The original body in an `async move` block whose output type is fixed to the return
/// type before the body is checked (the typed return edge), so that `?`, `return` and the
/// tail are checked against the signature and errors point at the user's code.
fn typed_body(function: &Function<'_>) -> TokenStream {
    let ret = &function.ret;
    let stmts = &function.item.block.stmts;
    let fake = mixed("__ret");
    let edge = quote_spanned! {ret.span()=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let #fake: #ret = loop {};
            return #fake;
        }
    };
    quote! {
        async move {
            #edge
            #(#stmts)*
        }
    }
}

/// The function's outer attributes, and its inner ones (`#![...]`, kept at the top of the
/// rewritten body).
fn split_attrs(function: &Function<'_>) -> (TokenStream, TokenStream) {
    let (mut outer, mut inner) = (TokenStream::new(), TokenStream::new());
    for attr in &function.item.attrs {
        match attr.style {
            syn::AttrStyle::Outer => attr.to_tokens(&mut outer),
            syn::AttrStyle::Inner(_) => attr.to_tokens(&mut inner),
        }
    }
    (outer, inner)
}

/// The runtime's path: `crate = ...` or `::cached_core`.
fn krate(path: Option<&syn::Path>) -> TokenStream {
    match path {
        Some(path) => quote!(#path),
        None => quote!(::cached_core),
    }
}

/// An identifier of the expansion, invisible to the user's code.
fn mixed(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// `callee(args).await`, with the callee, the parentheses and `.await` spanned on `span`
/// (the return type), so that an unmet bound of the runtime is reported there.
/// The hit answered before any future is built (a memory hit), returning early; on
/// anything else the key is handed back for the call.
///
/// Output:
///
/// ```text
/// let __key = match hit_now::<CACHED>(__site, __key) { Ok(v) => return WRAP(v), Err(k) => k };
/// ```
fn hit_now(krate: &TokenStream, function: &Function<'_>, site: &Ident, key: &Ident) -> TokenStream {
    let ret = &function.ret;
    let span = ret.span();
    let value = mixed("__value");
    let (cached, hit) = match function.mode {
        Mode::Value => (quote!(#ret), quote!(#value)),
        Mode::Result => (
            quote!(<#ret as #krate::__private::IsResult>::Ok),
            quote!(::core::result::Result::Ok(#value)),
        ),
    };
    let check = respan(quote!(#krate::__private::hit_now::<#cached>), span);
    let mut args = Group::new(Delimiter::Parenthesis, quote!(#site, #key));
    args.set_span(span);
    quote! {
        let #key = match #check #args {
            ::core::result::Result::Ok(#value) => return #hit,
            ::core::result::Result::Err(#key) => #key,
        };
    }
}

/// The `Freshness` of the options set, or `None` when none is.
fn freshness(krate: &TokenStream, options: &crate::attr::Freshness) -> Option<TokenStream> {
    options.first()?;
    let mut freshness = quote!(#krate::__private::Freshness::new());
    let windows = [
        ("stale", &options.stale),
        ("stale_if_error", &options.stale_if_error),
        ("early_refresh", &options.early_refresh),
    ];
    for (setter, window) in windows {
        if let Some((window, _)) = window {
            let setter = format_ident!("{setter}");
            let duration = duration(*window);
            freshness = quote!(#freshness.#setter(#duration));
        }
    }
    Some(freshness)
}

/// A `Duration` literal.
fn duration(duration: std::time::Duration) -> TokenStream {
    let (secs, nanos) = (duration.as_secs(), duration.subsec_nanos());
    quote!(::core::time::Duration::new(#secs, #nanos))
}

fn spanned_call(callee: TokenStream, mut args: Group, span: Span) -> TokenStream {
    let callee = respan(callee, span);
    args.set_span(span);
    let await_ = respan(quote!(.await), span);
    quote!(#callee #args #await_)
}

/// `tokens` with every span set to `span`, so that an error about them lands on `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                TokenTree::Group(respanned)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}
