//! Keys as the expansions build them: literal text from the attribute, values rendered
//! through `serde`, and the digest form when the result is too long.

use serde::Serialize;

use crate::key::{self, RenderError};

/// A key, or why it could not be rendered.
pub type KeyResult = Result<String, RenderError>;

/// A key being built from literal text and rendered values.
pub struct Key {
    out: String,
    error: Option<RenderError>,
}

impl Key {
    /// A key starting with `text`.
    #[inline]
    pub fn new(text: &'static str) -> Self {
        let mut out = String::with_capacity(text.len() + 24);
        out.push_str(text);
        Self { out, error: None }
    }

    /// Appends literal text from the attribute.
    #[inline]
    pub fn text(&mut self, text: &'static str) {
        self.out.push_str(text);
    }

    /// Appends `value`, rendered and escaped; the first failure is kept for
    /// [`finish`](Key::finish).
    #[inline]
    pub fn value<T: ?Sized + Serialize>(&mut self, value: &T) {
        if self.error.is_none()
            && let Err(error) = key::render_into(&mut self.out, value)
        {
            self.error = Some(error);
        }
    }

    /// The key, shortened when it is too long; or the first rendering failure.
    #[inline]
    pub fn finish(self) -> KeyResult {
        match self.error {
            None => Ok(key::shorten(self.out)),
            Some(error) => Err(error),
        }
    }
}

impl Key {
    /// The glob pattern of an `#[invalidates]` template, never shortened (a digest would
    /// match nothing); or the first rendering failure.
    #[inline]
    pub fn finish_pattern(self) -> KeyResult {
        match self.error {
            None => Ok(self.out),
            Some(error) => Err(error),
        }
    }
}

/// The key a `key_func` returned, shortened when it is too long.
#[inline]
pub fn custom_key(key: impl Into<String>) -> KeyResult {
    Ok(key::shorten(key.into()))
}
