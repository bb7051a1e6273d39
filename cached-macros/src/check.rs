//! Cross-checks of the attribute against the function it is on. Every problem is recorded,
//! spanned on the token at fault.

use proc_macro2::Span;
use syn::spanned::Spanned as _;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::attr::{CachedArgs, InvalidatesArgs, Mode, ModeOverride};
use crate::errors::Errors;
use crate::template::Template;

/// A named argument of the function.
pub(crate) struct Arg {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
}

impl Arg {
    /// Whether the argument is itself a reference (`&T`, `&mut T`).
    pub(crate) fn is_reference(&self) -> bool {
        matches!(strip_groups(&self.ty), Type::Reference(_))
    }
}

/// What the expansion needs to know about the function.
pub(crate) struct Function<'a> {
    pub(crate) item: &'a ItemFn,
    /// The `self` token of a method.
    pub(crate) receiver: Option<Span>,
    /// The arguments, in order, with a name (arguments bound by a pattern are left out).
    pub(crate) args: Vec<Arg>,
    /// The return type (`()` when none is written) and how it is cached.
    pub(crate) ret: Type,
    pub(crate) mode: Mode,
}

/// How the key of a `#[cached]` function is built.
pub(crate) enum KeySpec {
    /// `name:arg=value:...` over the arguments that are not skipped.
    Default(Vec<usize>),
    /// A template.
    Template(Template),
    /// A user function called with the arguments that are not skipped.
    Func(syn::ExprPath, Vec<usize>),
}

/// Checks `#[cached]`'s arguments against `item`.
pub(crate) fn cached<'a>(
    item: &'a ItemFn,
    args: &CachedArgs,
    errors: &mut Errors,
) -> Option<(Function<'a>, KeySpec, Vec<Template>)> {
    let function = function(item, "cached", args.mode, errors);
    if let Some(function) = &function
        && let Type::ImplTrait(impl_trait) = strip_groups(&function.ret)
    {
        errors.at(
            impl_trait.span(),
            "a `#[cached]` function cannot return `impl Trait`: the cache stores and reads a concrete type",
        );
    }
    let pattern_args = pattern_arguments(item);
    for name in &args.skip {
        if name == "self" {
            errors.at(
                name.span(),
                "`self` is never part of a key: leave it out of `skip`",
            );
        } else if !item
            .sig
            .inputs
            .iter()
            .any(|input| arg_ident(input).is_some_and(|ident| ident == name))
        {
            errors.at(
                name.span(),
                format!(
                    "`skip` names no argument: `{name}`; the arguments are {}",
                    list_names(item)
                ),
            );
        }
    }
    if let Some(function) = &function {
        check_freshness(item, function, args, errors);
    }
    let key_args = |function: &Function<'_>| -> Vec<usize> {
        (0..function.args.len())
            .filter(|&i| !args.skip.contains(&function.args[i].ident))
            .collect()
    };
    if let (Some(_), Some(func)) = (&args.key, &args.key_func) {
        errors.at(
            func.span(),
            "`key` and `key_func` cannot both be set: the key comes from the template or from the function",
        );
    }
    let spec = match (&args.key, &args.key_func) {
        (Some(lit), _) => {
            let template = Template::parse(lit, errors);
            if let Some(template) = &template {
                check_placeholders(item, template, &args.skip, errors);
            }
            template.map(KeySpec::Template)
        }
        (None, func) => {
            for span in pattern_args {
                errors.at(
                    span,
                    "`#[cached]` puts this argument into the key, so it needs a name: bind it to a name, or use a `key` template",
                );
            }
            function.as_ref().map(|f| match func {
                Some(func) => KeySpec::Func(func.clone(), key_args(f)),
                None => KeySpec::Default(key_args(f)),
            })
        }
    };
    let tags = tag_templates(item, &args.tags, &args.skip, errors)?;
    Some((function?, spec?, tags))
}

/// Parses and checks tag templates like key templates; a tag is a name, never a pattern.
/// `None` when one is invalid (reported).
fn tag_templates(
    item: &ItemFn,
    tags: &[syn::LitStr],
    skip: &[Ident],
    errors: &mut Errors,
) -> Option<Vec<Template>> {
    let mut templates = Vec::new();
    for lit in tags {
        let Some(template) = Template::parse(lit, errors) else {
            continue;
        };
        if template.is_pattern() {
            errors.at(
                lit.span(),
                "a tag is a name, not a pattern: `*` and `?` have no meaning in it",
            );
            continue;
        }
        check_placeholders(item, &template, skip, errors);
        templates.push(template);
    }
    (templates.len() == tags.len()).then_some(templates)
}

/// The freshness options need a body that can run after the call returned (a background
/// refresh): no borrowed argument. `stale_if_error` answers a failed load, so it needs a
/// `Result`.
fn check_freshness(item: &ItemFn, function: &Function<'_>, args: &CachedArgs, errors: &mut Errors) {
    if let (Some((_, name)), Mode::Value) = (&args.freshness.stale_if_error, function.mode) {
        errors.at(
            name.span(),
            "`stale_if_error` serves an older value when the body fails, so the function must return a `Result` (cached in `result` mode)",
        );
    }
    let Some(option) = args.freshness.first() else {
        return;
    };
    for input in &item.sig.inputs {
        match input {
            FnArg::Receiver(receiver) if receiver.reference.is_some() => errors.at(
                receiver.span(),
                format!("`{option}` runs the body after the call has returned (a background refresh), so it cannot borrow `self`: use an owned receiver or a free function taking owned arguments"),
            ),
            FnArg::Typed(typed) if matches!(strip_groups(&typed.ty), Type::Reference(_)) => {
                errors.at(
                    typed.ty.span(),
                    format!("`{option}` runs the body after the call has returned (a background refresh), so its arguments must be owned: take `String` rather than `&str`, a clone or an `Arc` rather than a reference"),
                );
            }
            _ => {}
        }
    }
}

/// Checks `#[invalidates]`'s arguments against `item`; the parsed templates.
pub(crate) fn invalidates<'a>(
    item: &'a ItemFn,
    args: &InvalidatesArgs,
    errors: &mut Errors,
) -> Option<(Function<'a>, Vec<Template>, Vec<Template>)> {
    let function = function(item, "invalidates", args.mode, errors);
    let mut templates = Vec::new();
    for lit in &args.keys {
        if let Some(template) = Template::parse(lit, errors) {
            check_placeholders(item, &template, &[], errors);
            templates.push(template);
        }
    }
    let tags = tag_templates(item, &args.tags, &[], errors);
    (templates.len() == args.keys.len()).then_some(())?;
    Some((function?, templates, tags?))
}

/// The parts of the signature both attributes need; reports a function that is not async.
fn function<'a>(
    item: &'a ItemFn,
    attribute: &str,
    mode: ModeOverride,
    errors: &mut Errors,
) -> Option<Function<'a>> {
    if item.sig.asyncness.is_none() {
        errors.at(
            item.sig.fn_token.span,
            format!(
                "`#[{attribute}]` applies to `async fn`s only: it awaits the cache; make the function `async`"
            ),
        );
        return None;
    }
    let mut receiver = None;
    let mut args = Vec::new();
    for input in &item.sig.inputs {
        match input {
            FnArg::Receiver(r) => receiver = Some(r.self_token.span),
            FnArg::Typed(typed) => {
                if let Pat::Ident(pat) = &*typed.pat {
                    args.push(Arg {
                        ident: pat.ident.clone(),
                        ty: (*typed.ty).clone(),
                    });
                }
            }
        }
    }
    let ret = match &item.sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let mode = match mode {
        Some((mode, _)) => mode,
        None if looks_like_result(&ret) => Mode::Result,
        None => Mode::Value,
    };
    Some(Function {
        item,
        receiver,
        args,
        ret,
        mode,
    })
}

/// Every placeholder must name an argument (or `self` in a method) that is not skipped.
fn check_placeholders(item: &ItemFn, template: &Template, skip: &[Ident], errors: &mut Errors) {
    let has_self = item.sig.receiver().is_some();
    for placeholder in template.placeholders() {
        let root = placeholder.root.as_str();
        if root == "self" {
            if !has_self {
                errors.at(
                    template.lit.span(),
                    format!(
                        "`{}` names `self`, but the function has no `self`",
                        placeholder.written
                    ),
                );
            }
            continue;
        }
        if skip.iter().any(|s| s == root) {
            errors.at(
                template.lit.span(),
                format!(
                    "`{}` names `{root}`, which `skip({root})` leaves out of the key",
                    placeholder.written
                ),
            );
        } else if !item
            .sig
            .inputs
            .iter()
            .any(|input| arg_ident(input).is_some_and(|ident| ident == root))
        {
            errors.at(
                template.lit.span(),
                format!(
                    "`{}` names no argument of `{}`; the arguments are {}",
                    placeholder.written,
                    item.sig.ident,
                    list_names(item)
                ),
            );
        }
    }
}

/// `Result<..>`, `io::Result<..>`, `anyhow::Result<..>`: a path whose last segment is
/// `Result` with generic arguments. Aliases need the `result` option.
fn looks_like_result(ty: &Type) -> bool {
    match strip_groups(ty) {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last().is_some_and(|last| {
            last.ident == "Result"
                && matches!(last.arguments, syn::PathArguments::AngleBracketed(_))
        }),
        _ => false,
    }
}

fn strip_groups(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => strip_groups(&group.elem),
        Type::Paren(paren) => strip_groups(&paren.elem),
        other => other,
    }
}

fn arg_ident(input: &FnArg) -> Option<&Ident> {
    match input {
        FnArg::Typed(typed) => match &*typed.pat {
            Pat::Ident(pat) => Some(&pat.ident),
            _ => None,
        },
        FnArg::Receiver(_) => None,
    }
}

/// The spans of arguments bound by a pattern rather than a name.
fn pattern_arguments(item: &ItemFn) -> Vec<Span> {
    item.sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) if !matches!(&*typed.pat, Pat::Ident(_)) => Some(typed.pat.span()),
            _ => None,
        })
        .collect()
}

fn list_names(item: &ItemFn) -> String {
    let names: Vec<String> = item
        .sig
        .inputs
        .iter()
        .filter_map(arg_ident)
        .map(|ident| format!("`{ident}`"))
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
