//! Stored responses: what an entry holds, how it is written for byte-oriented backends
//! (Redis, custom), and how it is replayed.
//!
//! An entry is shared behind an `Arc`, so a memory hit is a reference count, never a copy of
//! the body. On other backends it is JSON: the status, the headers as `[name, value]` pairs
//! and the body, each value and the body written as a JSON string when it is UTF-8 (nearly
//! free for text) and as `{"base64": "..."}` otherwise.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::{Response, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::X_CACHE;

/// What is stored under a response key.
#[derive(Clone, Debug)]
pub(crate) enum Entry {
    Response(Arc<StoredResponse>),
    /// The response for this key varies on these request headers; its variants live under
    /// secondary keys.
    Vary(Arc<[HeaderName]>),
}

#[derive(Debug)]
pub(crate) struct StoredResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// When the response was stored, in milliseconds since the Unix epoch (so that `Age` is
    /// right in every process sharing the store).
    pub(crate) stored_at: u64,
    /// The request's values of the headers the response varies on (its own `Vary`), so that
    /// a response shared in flight goes only to requests that would have selected it.
    pub(crate) varied: Vec<(HeaderName, Option<HeaderValue>)>,
}

/// Whether a replayed response was found in the cache or produced for this request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Hit,
    Miss,
}

impl StoredResponse {
    /// Whether `headers` (a request's) select this response among its `Vary` variants.
    pub(crate) fn selected_by(&self, headers: &HeaderMap) -> bool {
        self.varied
            .iter()
            .all(|(name, value)| combined(headers, name) == *value)
    }

    /// The response to send: the stored status, headers and body (none for `HEAD`), with
    /// `X-Cache` and, on a hit, `Age`.
    pub(crate) fn replay<B>(
        &self,
        source: Source,
        head: bool,
        body: impl FnOnce(Bytes) -> B,
    ) -> Response<B> {
        let mut response = Response::new(body(if head {
            Bytes::new()
        } else {
            self.body.clone()
        }));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.reserve(self.headers.len() + 2);
        for (name, value) in &self.headers {
            headers.append(name, value.clone());
        }
        if head && !headers.contains_key(header::CONTENT_LENGTH) {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        }
        match source {
            Source::Hit => {
                headers.insert(header::AGE, HeaderValue::from(self.age().as_secs()));
                headers.insert(X_CACHE, HeaderValue::from_static("HIT"));
            }
            Source::Miss => {
                headers.insert(X_CACHE, HeaderValue::from_static("MISS"));
            }
        }
        response
    }

    fn age(&self) -> Duration {
        Duration::from_millis(now_millis().saturating_sub(self.stored_at))
    }
}

/// Every value of the header `name` as one value, joined by `, ` as HTTP allows.
pub(crate) fn combined(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let Some(second) = values.next() else {
        return Some(first.clone());
    };
    let mut joined = first.as_bytes().to_vec();
    for value in std::iter::once(second).chain(values) {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(value.as_bytes());
    }
    HeaderValue::from_bytes(&joined).ok()
}

/// The current time in milliseconds since the Unix epoch.
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The serialized form.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum WireOut<'a> {
    Response {
        status: u16,
        stored_at: u64,
        headers: Vec<(&'a str, Octets<'a>)>,
        body: Octets<'a>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        varied: Vec<(&'a str, Option<Octets<'a>>)>,
    },
    Vary(Vec<&'a str>),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireIn {
    Response {
        status: u16,
        stored_at: u64,
        headers: Vec<(String, OctetsIn)>,
        body: OctetsIn,
        #[serde(default)]
        varied: Vec<(String, Option<OctetsIn>)>,
    },
    Vary(Vec<String>),
}

/// Bytes written as a JSON string when they are UTF-8, as base64 otherwise.
struct Octets<'a>(&'a [u8]);

impl Serialize for Octets<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => Base64 {
                base64: BASE64.encode(self.0),
            }
            .serialize(serializer),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Base64 {
    base64: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OctetsIn {
    Text(String),
    Binary(Base64),
}

impl OctetsIn {
    fn into_bytes<E: serde::de::Error>(self) -> Result<Bytes, E> {
        match self {
            OctetsIn::Text(text) => Ok(Bytes::from(text)),
            OctetsIn::Binary(Base64 { base64 }) => BASE64
                .decode(base64)
                .map(Bytes::from)
                .map_err(|e| E::custom(format!("invalid base64: {e}"))),
        }
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Entry::Vary(names) => WireOut::Vary(names.iter().map(HeaderName::as_str).collect()),
            Entry::Response(response) => WireOut::Response {
                status: response.status.as_u16(),
                stored_at: response.stored_at,
                headers: response
                    .headers
                    .iter()
                    .map(|(name, value)| (name.as_str(), Octets(value.as_bytes())))
                    .collect(),
                body: Octets(&response.body),
                varied: response
                    .varied
                    .iter()
                    .map(|(name, value)| {
                        (name.as_str(), value.as_ref().map(|v| Octets(v.as_bytes())))
                    })
                    .collect(),
            },
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match WireIn::deserialize(deserializer)? {
            WireIn::Vary(names) => names
                .iter()
                .map(|name| header_name(name))
                .collect::<Result<_, _>>()
                .map(Entry::Vary),
            WireIn::Response {
                status,
                stored_at,
                headers,
                body,
                varied,
            } => {
                let status = StatusCode::from_u16(status).map_err(D::Error::custom)?;
                let mut map = HeaderMap::with_capacity(headers.len());
                for (name, value) in headers {
                    map.append(header_name(&name)?, header_value(value)?);
                }
                let varied = varied
                    .into_iter()
                    .map(|(name, value)| {
                        Ok((header_name(&name)?, value.map(header_value).transpose()?))
                    })
                    .collect::<Result<_, D::Error>>()?;
                Ok(Entry::Response(Arc::new(StoredResponse {
                    status,
                    headers: map,
                    body: body.into_bytes()?,
                    stored_at,
                    varied,
                })))
            }
        }
    }
}

fn header_name<E: serde::de::Error>(name: &str) -> Result<HeaderName, E> {
    HeaderName::from_bytes(name.as_bytes()).map_err(E::custom)
}

fn header_value<E: serde::de::Error>(value: OctetsIn) -> Result<HeaderValue, E> {
    HeaderValue::from_maybe_shared(value.into_bytes::<E>()?).map_err(E::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(body: &'static [u8]) -> Entry {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        headers.append("x-tag", HeaderValue::from_static("a"));
        headers.append("x-tag", HeaderValue::from_static("b"));
        headers.insert("x-raw", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        Entry::Response(Arc::new(StoredResponse {
            status: StatusCode::CREATED,
            headers,
            body: Bytes::from_static(body),
            stored_at: 1_700_000_000_000,
            varied: vec![
                (
                    HeaderName::from_static("accept-language"),
                    Some(HeaderValue::from_static("fr")),
                ),
                (HeaderName::from_static("dnt"), None),
            ],
        }))
    }

    fn round_trip(entry: &Entry) -> (String, Entry) {
        let json = serde_json::to_string(entry).unwrap();
        let back = serde_json::from_str(&json).unwrap();
        (json, back)
    }

    fn response(entry: &Entry) -> &StoredResponse {
        match entry {
            Entry::Response(response) => response,
            Entry::Vary(_) => panic!("not a response"),
        }
    }

    #[test]
    fn text_bodies_are_json_strings_and_round_trip_exactly() {
        let entry = sample(b"{\"title\":\"Hello\"}");
        let (json, back) = round_trip(&entry);
        assert!(json.contains(r#""body":"{\"title\":\"Hello\"}""#), "{json}");
        assert!(
            json.contains(r#"["x-raw",{"base64":"Y2Fm6Q=="}]"#),
            "{json}"
        );
        let (a, b) = (response(&entry), response(&back));
        assert_eq!(a.status, b.status);
        assert_eq!(a.headers, b.headers);
        assert_eq!(a.body, b.body);
        assert_eq!(a.stored_at, b.stored_at);
        assert_eq!(a.varied, b.varied);
    }

    #[test]
    fn binary_bodies_are_base64_not_arrays_of_numbers() {
        let entry = sample(&[0, 159, 146, 150, 255]);
        let (json, back) = round_trip(&entry);
        assert!(json.contains(r#""body":{"base64":"AJ+Slv8="}"#), "{json}");
        assert_eq!(response(&back).body.as_ref(), &[0, 159, 146, 150, 255]);
    }

    #[test]
    fn vary_markers_round_trip_and_foreign_values_are_errors() {
        let (json, back) = round_trip(&Entry::Vary(Arc::from([HeaderName::from_static("accept")])));
        assert_eq!(json, r#"{"vary":["accept"]}"#);
        assert!(
            matches!(back, Entry::Vary(names) if names[..] == [HeaderName::from_static("accept")])
        );
        for foreign in [
            r#""just a string""#,
            r#"{"vary":["bad header"]}"#,
            r#"{"response":{"status":1000,"stored_at":0,"headers":[],"body":""}}"#,
            r#"{"response":{"status":200,"stored_at":0,"headers":[["a","\n"]],"body":""}}"#,
            r#"{"response":{"status":200,"stored_at":0,"headers":[],"body":{"base64":"!"}}}"#,
        ] {
            assert!(serde_json::from_str::<Entry>(foreign).is_err(), "{foreign}");
        }
    }

    #[test]
    fn replays_carry_x_cache_and_age_on_hits_and_no_body_for_head() {
        let entry = sample(b"hello");
        let stored = response(&entry);
        let hit = stored.replay(Source::Hit, false, |b| b);
        assert_eq!(hit.status(), StatusCode::CREATED);
        assert_eq!(hit.headers()[X_CACHE], "HIT");
        assert!(
            hit.headers()[header::AGE]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
        assert_eq!(hit.headers().get_all("x-tag").iter().count(), 2);
        assert_eq!(hit.body().as_ref(), b"hello");

        let head = stored.replay(Source::Miss, true, |b| b);
        assert_eq!(head.headers()[X_CACHE], "MISS");
        assert!(!head.headers().contains_key(header::AGE));
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "5");
        assert!(head.body().is_empty());
    }

    #[test]
    fn selection_compares_the_varied_request_headers() {
        let entry = sample(b"");
        let stored = response(&entry);
        let mut headers = HeaderMap::new();
        headers.insert("accept-language", HeaderValue::from_static("fr"));
        assert!(stored.selected_by(&headers));
        headers.insert("dnt", HeaderValue::from_static("1"));
        assert!(!stored.selected_by(&headers));
        headers.remove("dnt");
        headers.append("accept-language", HeaderValue::from_static("en"));
        assert!(!stored.selected_by(&headers), "fr, en is not fr");
        headers.insert("accept-language", HeaderValue::from_static("en"));
        assert!(!stored.selected_by(&headers));
    }
}
