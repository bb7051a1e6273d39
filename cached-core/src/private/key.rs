//! Keys as the expansions build them: literal text from the attribute and values rendered
//! through `serde` (each long value shortened on its own; keys are never shortened whole).

use std::cell::Cell;

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
    /// A key starting with `text`, built in this thread's spare buffer when it has one.
    #[inline]
    pub fn new(text: &'static str) -> Self {
        let mut out = SPARE
            .take()
            .unwrap_or_else(|| String::with_capacity(text.len() + 24));
        out.clear();
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

    /// The key; or the first rendering failure.
    #[inline]
    pub fn finish(self) -> KeyResult {
        match self.error {
            None => Ok(self.out),
            Some(error) => Err(error),
        }
    }

    /// The glob pattern of an `#[invalidates]` template, whose values render as they do in
    /// keys (a long one to the same digest form); or the first rendering failure.
    #[inline]
    pub fn finish_pattern(self) -> KeyResult {
        self.finish()
    }
}

thread_local! {
    /// A key buffer given back by a call that only needed to borrow its key (a hit), so
    /// that the next call on this thread renders without allocating.
    static SPARE: Cell<Option<String>> = const { Cell::new(None) };
}

/// Keeps `key`'s buffer for the next key rendered on this thread; small buffers only.
#[inline]
pub(crate) fn recycle(key: String) {
    if key.capacity() <= 512 {
        SPARE.set(Some(key));
    }
}

/// The key a `key_func` returned, as it is: a `key_func` renders its values with
/// [`key::render_into`](crate::key::render_into) for the escaping and shortening of
/// `#[cached]` keys.
#[inline]
pub fn custom_key(key: impl Into<String>) -> KeyResult {
    Ok(key.into())
}
