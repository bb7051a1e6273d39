//! Key templates: `"posts:{user_id}"`, `"user:{user.id}:profile"`, `"post:<post_id>"`.
//!
//! Parsed here from the string literal, the way `format!` strings are: `{name}` or `<name>`
//! is a placeholder naming an argument (or `self`), optionally followed by `.field`s;
//! `{{`, `}}`, `<<` and `>>` are the literal characters. Errors are spanned on the literal.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Ident, LitStr};

use crate::errors::Errors;

/// A parsed template.
pub(crate) struct Template {
    /// The literal, for spans.
    pub(crate) lit: LitStr,
    pub(crate) parts: Vec<Part>,
}

/// A piece of a template.
pub(crate) enum Part {
    /// Text written into the key as it is.
    Text(String),
    /// A value rendered and escaped into the key.
    Value(Placeholder),
}

/// `{root.field.0}`.
pub(crate) struct Placeholder {
    /// The argument, or `self`.
    pub(crate) root: String,
    /// Fields reached from it, named or positional.
    pub(crate) fields: Vec<String>,
    /// As written, braces included, for messages.
    pub(crate) written: String,
}

impl Placeholder {
    /// The field accesses after the root (`.user.0`), spanned at `span`.
    pub(crate) fn field_path(&self, span: Span) -> TokenStream {
        let fields = self.fields.iter().map(|field| match field.parse::<u32>() {
            Ok(index) => {
                let index = syn::Index { index, span };
                quote!(.#index)
            }
            Err(_) => {
                let field = Ident::new(field, span);
                quote!(.#field)
            }
        });
        quote!(#(#fields)*)
    }
}

impl Template {
    /// The expression rendering this template through `krate`'s key builder
    /// (`Result<String, RenderError>`): each placeholder's value is the reference `value`
    /// gives, and `finish` names the builder's last call (`finish`, `finish_pattern`).
    pub(crate) fn render(
        &self,
        krate: &TokenStream,
        finish: &str,
        value: impl Fn(&Placeholder) -> TokenStream,
    ) -> TokenStream {
        let k = Ident::new("__k", Span::mixed_site());
        let append = Ident::new("value", self.lit.span());
        let finish = Ident::new(finish, Span::call_site());
        let mut first = String::new();
        let mut steps = Vec::new();
        for (n, part) in self.parts.iter().enumerate() {
            match part {
                Part::Text(text) if n == 0 => first.clone_from(text),
                Part::Text(text) => steps.push(quote!(#k.text(#text);)),
                Part::Value(placeholder) => {
                    let reference = value(placeholder);
                    steps.push(quote!(#k.#append(#reference);));
                }
            }
        }
        quote!({
            #[allow(unused_mut)]
            let mut #k = #krate::__private::Key::new(#first);
            #(#steps)*
            #k.#finish()
        })
    }

    /// Parses `lit`, recording every problem; `None` when there was one.
    pub(crate) fn parse(lit: &LitStr, errors: &mut Errors) -> Option<Template> {
        let text = lit.value();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut failed = false;
        let mut fail = |message: String| {
            errors.at(lit.span(), message);
            failed = true;
        };
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            let close = match c {
                '{' => '}',
                '<' => '>',
                '}' | '>' => {
                    if chars.next_if(|&(_, next)| next == c).is_none() {
                        fail(format!(
                            "unmatched `{c}` in the key template; write `{c}{c}` for a literal `{c}`"
                        ));
                    }
                    literal.push(c);
                    continue;
                }
                _ => {
                    literal.push(c);
                    continue;
                }
            };
            if chars.next_if(|&(_, next)| next == c).is_some() {
                literal.push(c);
                continue;
            }
            let rest = &text[at + 1..];
            let Some(end) = rest.find(close) else {
                fail(format!(
                    "unclosed `{c}` in the key template; close the placeholder with `{close}`, or write `{c}{c}` for a literal `{c}`"
                ));
                break;
            };
            let inner = &rest[..end];
            let written = format!("{c}{inner}{close}");
            while chars.next_if(|&(i, _)| i <= at + 1 + end).is_some() {}
            match placeholder(inner, written) {
                Ok(placeholder) => {
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Value(placeholder));
                }
                Err(message) => fail(message),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        check_separators(&parts, &mut fail);
        (!failed).then(|| Template {
            lit: lit.clone(),
            parts,
        })
    }

    /// The placeholders, in order.
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &Placeholder> {
        self.parts.iter().filter_map(|part| match part {
            Part::Value(placeholder) => Some(placeholder),
            Part::Text(_) => None,
        })
    }

    /// Whether the template's own text holds `*` or `?`: then it is a glob pattern for
    /// `delete_pattern`. Rendered values never hold them.
    pub(crate) fn is_pattern(&self) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, Part::Text(text) if text.contains(['*', '?'])))
    }
}

/// Parses the inside of a placeholder: `name`, `name.field`, `name.0`.
fn placeholder(inner: &str, written: String) -> Result<Placeholder, String> {
    let mut segments = inner.split('.');
    let root = segments.next().unwrap_or_default();
    if !is_identifier(root) {
        return Err(format!(
            "`{written}` is not a placeholder: write `{{argument}}` or `{{argument.field}}` (`{{{{` for a literal `{{`)"
        ));
    }
    let fields: Vec<String> = segments.map(str::to_owned).collect();
    if let Some(bad) = fields.iter().find(|f| !is_identifier(f) && !is_index(f)) {
        return Err(format!(
            "`{written}`: `{bad}` is not a field name; write `{{argument.field}}`"
        ));
    }
    Ok(Placeholder {
        root: root.to_owned(),
        fields,
        written,
    })
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
        && text != "_"
}

fn is_index(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
}

/// Two placeholders must be separated by a character that rendered values never contain
/// (such as `:`); otherwise different arguments could give the same key (`{a}-{b}` with
/// `a = "x-y", b = "z"` and `a = "x", b = "y-z"`).
fn check_separators(parts: &[Part], fail: &mut impl FnMut(String)) {
    let mut previous: Option<&Placeholder> = None;
    let mut between = String::new();
    for part in parts {
        match part {
            Part::Text(text) => between.push_str(text),
            Part::Value(placeholder) => {
                if let Some(previous) = previous
                    && !between.chars().any(separates)
                {
                    fail(format!(
                        "`{}` and `{}` need a separator such as `:` between them, or different arguments could give the same key",
                        previous.written, placeholder.written
                    ));
                }
                previous = Some(placeholder);
                between.clear();
            }
        }
    }
}

/// Whether `c` can never appear in a rendered value (see `cached_core::key`).
fn separates(c: char) -> bool {
    c.is_ascii() && !c.is_ascii_alphanumeric() && !"-_.~%!@(),'".contains(c)
}

#[cfg(test)]
mod tests {
    use proc_macro2::Span;
    use proptest::prelude::*;

    use super::*;

    fn parse(text: &str) -> (Option<Template>, bool) {
        let mut errors = Errors::default();
        let template = Template::parse(&LitStr::new(text, Span::call_site()), &mut errors);
        let clean = errors.is_empty();
        (template, clean)
    }

    /// The template text that parses to `parts`: literal braces doubled, placeholders in
    /// braces.
    fn write(parts: &[Part]) -> String {
        let mut text = String::new();
        for part in parts {
            match part {
                Part::Text(literal) => {
                    for c in literal.chars() {
                        text.push(c);
                        if "{}<>".contains(c) {
                            text.push(c);
                        }
                    }
                }
                Part::Value(placeholder) => {
                    text.push('{');
                    text.push_str(&placeholder.root);
                    for field in &placeholder.fields {
                        text.push('.');
                        text.push_str(field);
                    }
                    text.push('}');
                }
            }
        }
        text
    }

    fn summary(template: &Template) -> Vec<String> {
        template
            .parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => format!("text {text}"),
                Part::Value(p) => format!("value {}.{}", p.root, p.fields.join(".")),
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Any text parses or is refused with an error, never a panic; what parses reads
        /// the same once written back.
        #[test]
        fn any_text_parses_or_is_refused_and_parses_round_trip(
            text in r"([a-z:_.0-9*?é]|\{|\}|<|>|\{[a-z_.0-9]{0,8}\}|<[a-z_.0-9]{0,8}>){0,12}"
        ) {
            let (template, clean) = parse(&text);
            prop_assert_eq!(template.is_some(), clean, "a template exactly when no error");
            if let Some(template) = template {
                let (again, _) = parse(&write(&template.parts));
                let again = again.expect("a written template parses");
                prop_assert_eq!(summary(&template), summary(&again));
            }
        }

        /// Arbitrary Unicode, control characters included, never panics.
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let (template, clean) = parse(&text);
            prop_assert_eq!(template.is_some(), clean);
        }
    }
}
