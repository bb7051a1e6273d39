//! Every error found in one attribute, reported together.

use proc_macro2::{Span, TokenStream};

/// Collects errors while parsing and checking, so that the user sees all of them at once.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    /// Records an error spanned on `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.0.push(syn::Error::new(span, message));
    }

    /// Records an error from syn.
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    /// Whether no error was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors as `compile_error!` invocations, or `None` when there are none.
    pub(crate) fn into_compile_errors(self) -> Option<TokenStream> {
        if self.0.is_empty() {
            return None;
        }
        Some(self.0.into_iter().map(|e| e.to_compile_error()).collect())
    }
}
