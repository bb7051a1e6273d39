//! Capturing what `cached_core` logs, for tests that check log lines.
//!
//! `tracing` caches per call site, process-wide, whether any subscriber listens, so
//! thread-local subscribers set by tests running in parallel race with each other. Instead
//! one global subscriber takes every `cached_core` event and hands it to whichever capture
//! is active: one on the current thread ([`capture`]), or one for every thread
//! ([`capture_all_threads`], taken in turns).

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use tokio::sync::{Mutex as TurnLock, MutexGuard};
use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

type Buffer = Arc<Mutex<Vec<u8>>>;

thread_local! {
    static ON_THIS_THREAD: RefCell<Option<(Level, Buffer)>> = const { RefCell::new(None) };
}

static ON_EVERY_THREAD: Mutex<Option<(Level, Buffer)>> = Mutex::new(None);
static EVERY_THREAD_TURN: TurnLock<()> = TurnLock::const_new(());

/// Log lines captured since the capture began; capturing stops when it is dropped.
pub struct Capture {
    buffer: Buffer,
    every_thread: Option<MutexGuard<'static, ()>>,
}

impl Capture {
    /// The formatted lines so far, without colours.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8(self.buffer.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Everything captured so far, as one string.
    pub fn text(&self) -> String {
        self.lines().join("\n")
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if self.every_thread.is_some() {
            *ON_EVERY_THREAD.lock().unwrap() = None;
        } else {
            ON_THIS_THREAD.with(|active| *active.borrow_mut() = None);
        }
    }
}

/// Captures the `cached_core` events at `level` or more severe emitted on this thread (a
/// current-thread tokio test runs all its tasks on it).
pub fn capture(level: Level) -> Capture {
    install();
    let buffer = Buffer::default();
    ON_THIS_THREAD.with(|active| *active.borrow_mut() = Some((level, buffer.clone())));
    Capture {
        buffer,
        every_thread: None,
    }
}

/// Captures the `cached_core` events at `level` or more severe emitted on any thread; tests
/// using it take turns.
pub async fn capture_all_threads(level: Level) -> Capture {
    install();
    let turn = EVERY_THREAD_TURN.lock().await;
    let buffer = Buffer::default();
    *ON_EVERY_THREAD.lock().unwrap() = Some((level, buffer.clone()));
    Capture {
        buffer,
        every_thread: Some(turn),
    }
}

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("cached_core=debug"))
            .with_writer(Router)
            .with_ansi(false)
            .init();
    });
}

/// Sends each event to the active capture it concerns, or nowhere.
struct Router;

/// One event's destination.
struct Sink(Vec<Buffer>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for buffer in &self.0 {
            buffer.lock().unwrap().extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Router {
    type Writer = Sink;

    fn make_writer(&'a self) -> Sink {
        Sink(Vec::new())
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Sink {
        let wanted = |active: &Option<(Level, Buffer)>| {
            active
                .as_ref()
                .filter(|(level, _)| meta.level() <= level)
                .map(|(_, buffer)| buffer.clone())
        };
        let mut buffers: Vec<Buffer> = ON_THIS_THREAD
            .with(|active| wanted(&active.borrow()))
            .into_iter()
            .collect();
        buffers.extend(wanted(&ON_EVERY_THREAD.lock().unwrap()));
        Sink(buffers)
    }
}
