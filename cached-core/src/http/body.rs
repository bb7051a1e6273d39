//! [`ResponseBody`]: the body of every response that passes through the layer, and the
//! buffering of a body to be stored, bounded by the size limit.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use pin_project_lite::pin_project;

pin_project! {
    /// The body of a response from [`CacheResponse`](super::CacheResponse): the inner
    /// service's body streamed through untouched, a stored body being replayed, or the rest
    /// of a body that turned out too large to store, after the part already read.
    pub struct ResponseBody<B: Body> {
        #[pin]
        state: State<B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B: Body> {
        Untouched { #[pin] body: B },
        Full { data: Option<Bytes> },
        Resumed {
            read: VecDeque<Frame<Bytes>>,
            error: Option<B::Error>,
            rest: Option<Pin<Box<B>>>,
        },
    }
}

impl<B: Body> ResponseBody<B> {
    /// The inner service's body, streamed as it comes.
    pub(crate) fn untouched(body: B) -> Self {
        Self {
            state: State::Untouched { body },
        }
    }

    /// A complete body.
    pub(crate) fn full(data: Bytes) -> Self {
        Self {
            state: State::Full {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }
}

impl<B: Body> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Untouched { .. } => "Untouched",
            State::Full { .. } => "Full",
            State::Resumed { .. } => "Resumed",
        };
        f.debug_tuple("ResponseBody").field(&state).finish()
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().state.project() {
            StateProj::Untouched { body } => body.poll_frame(cx).map(into_bytes),
            StateProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            StateProj::Resumed { read, error, rest } => {
                if let Some(frame) = read.pop_front() {
                    return Poll::Ready(Some(Ok(frame)));
                }
                if let Some(error) = error.take() {
                    return Poll::Ready(Some(Err(error)));
                }
                match rest {
                    Some(body) => body.as_mut().poll_frame(cx).map(into_bytes),
                    None => Poll::Ready(None),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Untouched { body } => body.is_end_stream(),
            State::Full { data } => data.is_none(),
            State::Resumed { read, error, rest } => {
                read.is_empty()
                    && error.is_none()
                    && rest.as_ref().is_none_or(|b| b.is_end_stream())
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Untouched { body } => body.size_hint(),
            State::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            State::Resumed { .. } => SizeHint::default(),
        }
    }
}

fn into_bytes<D: Buf, E>(frame: Option<Result<Frame<D>, E>>) -> Option<Result<Frame<Bytes>, E>> {
    frame.map(|frame| {
        frame.map(|frame| frame.map_data(|mut data| data.copy_to_bytes(data.remaining())))
    })
}

/// A body read to its end, or as much of it as was read before it had to be given up.
pub(crate) enum Collected<B: Body> {
    /// The whole body, which fits the limit and has no trailers.
    Complete(Bytes),
    /// The body cannot be stored (too large, trailers, or an error); it is still sent whole.
    Incomplete(ResponseBody<B>),
}

/// Reads `body` to its end if it is at most `limit` bytes long.
pub(crate) async fn collect<B: Body>(body: B, limit: usize) -> Collected<B> {
    let mut body = Box::pin(body);
    let mut read: VecDeque<Frame<Bytes>> = VecDeque::new();
    let mut length = 0_usize;
    let give_up = |read, error, rest| {
        Collected::Incomplete(ResponseBody {
            state: State::Resumed { read, error, rest },
        })
    };
    loop {
        match body.frame().await {
            None => return Collected::Complete(concat(read)),
            Some(Err(error)) => return give_up(read, Some(error), None),
            Some(Ok(frame)) => {
                let frame = frame.map_data(|mut data| data.copy_to_bytes(data.remaining()));
                let is_trailers = frame.is_trailers();
                length = length.saturating_add(frame.data_ref().map_or(0, Bytes::len));
                read.push_back(frame);
                if is_trailers || length > limit {
                    return give_up(read, None, Some(body));
                }
            }
        }
    }
}

/// The data of `frames` as one buffer, without a copy when there is a single frame.
fn concat(mut frames: VecDeque<Frame<Bytes>>) -> Bytes {
    if frames.len() == 1 {
        return frames
            .pop_front()
            .and_then(|f| f.into_data().ok())
            .unwrap_or_default();
    }
    let mut out = BytesMut::new();
    for frame in frames {
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
        }
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::BodyExt;

    use super::*;

    /// A body that yields the given chunks and errors, one per poll.
    struct Chunks(VecDeque<Result<&'static str, &'static str>>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = &'static str;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, &'static str>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|part| part.map(|text| Frame::data(Bytes::from_static(text.as_bytes())))),
            )
        }
    }

    fn chunks(parts: &[Result<&'static str, &'static str>]) -> Chunks {
        Chunks(parts.iter().copied().collect())
    }

    async fn drain<B: Body<Data = Bytes>>(body: B) -> Result<Vec<u8>, B::Error> {
        Ok(body.collect().await?.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_collected_whole() {
        match collect(chunks(&[Ok("hel"), Ok("lo")]), 5).await {
            Collected::Complete(bytes) => assert_eq!(bytes.as_ref(), b"hello"),
            Collected::Incomplete(_) => panic!("fits the limit"),
        }
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_still_sent_whole() {
        let Collected::Incomplete(body) =
            collect(chunks(&[Ok("hel"), Ok("lo"), Ok(" world")]), 4).await
        else {
            panic!("over the limit");
        };
        assert_eq!(drain(body).await.unwrap(), b"hello world");
    }

    #[tokio::test]
    async fn an_error_is_passed_on_after_the_data_read() {
        let Collected::Incomplete(body) =
            collect(chunks(&[Ok("partial"), Err("reset")]), 100).await
        else {
            panic!("an error cannot be stored");
        };
        let mut body = std::pin::pin!(body);
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap().as_ref(), b"partial");
        assert_eq!(body.frame().await.unwrap().unwrap_err(), "reset");
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn full_and_untouched_bodies() {
        let full: ResponseBody<String> = ResponseBody::full(Bytes::from_static(b"abc"));
        assert_eq!(full.size_hint().exact(), Some(3));
        assert_eq!(drain(full).await.unwrap(), b"abc");
        let empty: ResponseBody<String> = ResponseBody::full(Bytes::new());
        assert!(empty.is_end_stream());
        let untouched = ResponseBody::untouched(String::from("streamed"));
        assert_eq!(untouched.size_hint().exact(), Some(8));
        let result: Result<Vec<u8>, Infallible> = drain(untouched).await;
        assert_eq!(result.unwrap(), b"streamed");
    }
}
