//! Parsing of the attributes' arguments into typed structs. Every problem is recorded in
//! [`Errors`] and parsing goes on, so that one build shows them all.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt as _;
use syn::parse::{ParseStream, Parser as _};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprPath, Ident, Lit, LitBool, LitStr, Path, Token};

use crate::errors::Errors;

/// The options of `#[cached]`, in the order the error for an unknown one lists them.
const CACHED_OPTIONS: &[&str] = &[
    "ttl",
    "stale",
    "stale_if_error",
    "early_refresh",
    "tags",
    "key",
    "key_func",
    "condition",
    "cache",
    "skip",
    "result",
    "option",
    "companion",
    "crate",
];

/// The options of `#[invalidates]`, besides the key templates.
const INVALIDATES_OPTIONS: &[&str] = &["tags", "cache", "result", "option", "crate"];

/// How the return type is treated, when the attribute says so.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Only `Ok` is cached (and only `Ok` invalidates).
    Result,
    /// Every value is cached as returned (and every return invalidates).
    Value,
}

/// A mode override and the token that set it.
pub(crate) type ModeOverride = Option<(Mode, Span)>;

/// The arguments of `#[cached(...)]`.
#[derive(Default)]
pub(crate) struct CachedArgs {
    pub(crate) ttl: Option<Duration>,
    pub(crate) freshness: Freshness,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) key: Option<LitStr>,
    pub(crate) key_func: Option<ExprPath>,
    pub(crate) condition: Option<Expr>,
    pub(crate) cache: Option<LitStr>,
    pub(crate) skip: Vec<Ident>,
    pub(crate) mode: ModeOverride,
    pub(crate) companion: Option<LitBool>,
    pub(crate) krate: Option<Path>,
}

/// The freshness options of `#[cached]`, each with the option's name (where errors about it
/// are spanned).
#[derive(Default)]
pub(crate) struct Freshness {
    pub(crate) stale: Option<(Duration, Ident)>,
    pub(crate) stale_if_error: Option<(Duration, Ident)>,
    pub(crate) early_refresh: Option<(Duration, Ident)>,
}

impl Freshness {
    /// The first option set.
    pub(crate) fn first(&self) -> Option<&Ident> {
        [&self.stale, &self.early_refresh, &self.stale_if_error]
            .into_iter()
            .find_map(|option| option.as_ref().map(|(_, name)| name))
    }
}

/// The arguments of `#[invalidates(...)]`.
#[derive(Default)]
pub(crate) struct InvalidatesArgs {
    pub(crate) keys: Vec<LitStr>,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) cache: Option<LitStr>,
    pub(crate) mode: ModeOverride,
    pub(crate) krate: Option<Path>,
}

/// Parses `#[cached(...)]`'s arguments.
pub(crate) fn parse_cached(args: TokenStream, errors: &mut Errors) -> CachedArgs {
    let mut out = CachedArgs::default();
    let mut seen = Seen::default();
    let parser = |input: ParseStream<'_>| {
        while !input.is_empty() {
            let name = input.call(Ident::parse_any)?;
            let duplicate = seen.check(&name, errors);
            match name.to_string().as_str() {
                "ttl" => {
                    let ttl = parse_duration(input, "ttl", errors)?;
                    if !duplicate {
                        out.ttl = ttl;
                    }
                }
                "stale" | "stale_if_error" | "early_refresh" => {
                    let option = name.to_string();
                    let window = parse_duration(input, &option, errors)?;
                    let slot = match option.as_str() {
                        "stale" => &mut out.freshness.stale,
                        "stale_if_error" => &mut out.freshness.stale_if_error,
                        _ => &mut out.freshness.early_refresh,
                    };
                    if let (Some(window), false) = (window, duplicate) {
                        *slot = Some((window, name.clone()));
                    }
                }
                "tags" => out.tags.extend(tag_list(input)?),
                "key" => set(&mut out.key, value::<LitStr>(input)?, duplicate),
                "key_func" => set(&mut out.key_func, value::<ExprPath>(input)?, duplicate),
                "condition" => set(&mut out.condition, value::<Expr>(input)?, duplicate),
                "cache" => set(&mut out.cache, cache_name(input, errors)?, duplicate),
                "skip" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                        &content,
                        Ident::parse_any,
                    )?;
                    out.skip.extend(names);
                }
                "result" => set_mode(&mut out.mode, Mode::Result, &name, errors),
                "option" => set_mode(&mut out.mode, Mode::Value, &name, errors),
                "companion" => set(&mut out.companion, value::<LitBool>(input)?, duplicate),
                "crate" => set(&mut out.krate, crate_path(input)?, duplicate),
                _ => unknown(&name, input, CACHED_OPTIONS, errors)?,
            }
            comma(input)?;
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    out
}

/// Parses `#[invalidates(...)]`'s arguments; `attr_span` is where an empty list is reported.
pub(crate) fn parse_invalidates(args: TokenStream, errors: &mut Errors) -> InvalidatesArgs {
    let mut out = InvalidatesArgs::default();
    let mut seen = Seen::default();
    let parser = |input: ParseStream<'_>| {
        while !input.is_empty() {
            if input.peek(LitStr) {
                out.keys.push(input.parse()?);
                comma(input)?;
                continue;
            }
            let name = input.call(Ident::parse_any)?;
            let duplicate = seen.check(&name, errors);
            match name.to_string().as_str() {
                "tags" => out.tags.extend(tag_list(input)?),
                "cache" => set(&mut out.cache, cache_name(input, errors)?, duplicate),
                "result" => set_mode(&mut out.mode, Mode::Result, &name, errors),
                "option" => set_mode(&mut out.mode, Mode::Value, &name, errors),
                "crate" => set(&mut out.krate, crate_path(input)?, duplicate),
                _ => unknown(&name, input, INVALIDATES_OPTIONS, errors)?,
            }
            comma(input)?;
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    if out.keys.is_empty() && out.tags.is_empty() {
        errors.at(
            Span::call_site(),
            "`#[invalidates]` needs at least one key or tag to delete, e.g. `#[invalidates(\"posts:all\", \"post:{post_id}\")]` or `#[invalidates(tags = [\"user:{user_id}\"])]`",
        );
    }
    out
}

/// The options already given, to report repeats.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    /// Records `name`; reports it and returns `true` when it was given before.
    fn check(&mut self, name: &Ident, errors: &mut Errors) -> bool {
        let text = name.to_string();
        if self.0.contains(&text) {
            errors.at(name.span(), format!("`{text}` set multiple times"));
            true
        } else {
            self.0.push(text);
            false
        }
    }
}

fn set<T>(slot: &mut Option<T>, value: T, duplicate: bool) {
    if !duplicate {
        *slot = Some(value);
    }
}

fn set_mode(slot: &mut ModeOverride, mode: Mode, name: &Ident, errors: &mut Errors) {
    match slot {
        Some((current, _)) if *current != mode => errors.at(
            name.span(),
            "`result` and `option` cannot both be set: choose how the return type is cached",
        ),
        _ => *slot = Some((mode, name.span())),
    }
}

/// `= value`.
fn value<T: syn::parse::Parse>(input: ParseStream<'_>) -> syn::Result<T> {
    input.parse::<Token![=]>()?;
    input.parse()
}

/// `= ["user:{user_id}", "posts"]`.
pub(crate) fn tag_list(input: ParseStream<'_>) -> syn::Result<Punctuated<LitStr, Token![,]>> {
    input.parse::<Token![=]>()?;
    let content;
    syn::bracketed!(content in input);
    Punctuated::parse_terminated(&content)
}

pub(crate) fn comma(input: ParseStream<'_>) -> syn::Result<()> {
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

/// `= "name"`, not empty.
pub(crate) fn cache_name(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<LitStr> {
    let name: LitStr = value(input)?;
    if name.value().is_empty() {
        errors.at(name.span(), "the cache name is empty");
    }
    Ok(name)
}

/// `= path` or `= "path"`.
fn crate_path(input: ParseStream<'_>) -> syn::Result<Path> {
    input.parse::<Token![=]>()?;
    if input.peek(LitStr) {
        input.parse::<LitStr>()?.parse()
    } else {
        Path::parse_mod_style(input)
    }
}

/// Reports an unknown option and skips its value, so that the options after it are read.
pub(crate) fn unknown(
    name: &Ident,
    input: ParseStream<'_>,
    valid: &[&str],
    errors: &mut Errors,
) -> syn::Result<()> {
    let valid: Vec<String> = valid.iter().map(|o| format!("`{o}`")).collect();
    errors.at(
        name.span(),
        format!(
            "unknown option `{name}`; expected one of {}",
            valid.join(", ")
        ),
    );
    if input.peek(Token![=]) {
        value::<Expr>(input)?;
    } else if input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in input);
    }
    Ok(())
}

/// `= 300` (seconds) or `= "5m"` (a duration) for the option `option`; zero and malformed
/// durations are errors spanned on the literal.
pub(crate) fn parse_duration(
    input: ParseStream<'_>,
    option: &str,
    errors: &mut Errors,
) -> syn::Result<Option<Duration>> {
    let lit: Lit = value(input)?;
    let parsed = match &lit {
        Lit::Int(int) => int
            .base10_parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| e.to_string()),
        Lit::Str(text) => humantime::parse_duration(&text.value()).map_err(|e| {
            format!(
                "`{}` is not a duration ({e}); write seconds (`300`) or a duration such as `\"5m\"`, `\"1h30m\"` or `\"250ms\"`",
                text.value()
            )
        }),
        _ => Err(format!(
            "`{option}` is seconds (`300`) or a duration such as `\"5m\"`, `\"1h30m\"` or `\"250ms\"`"
        )),
    };
    match parsed {
        Ok(duration) if duration.is_zero() => {
            let why = if option == "ttl" {
                "a value that expires at once is never cached"
            } else {
                "leave the option out instead"
            };
            errors.at(
                lit.span(),
                format!("`{option}` must be greater than zero: {why}"),
            );
            Ok(None)
        }
        Ok(duration) => Ok(Some(duration)),
        Err(message) => {
            errors.at(lit.span(), message);
            Ok(None)
        }
    }
}
