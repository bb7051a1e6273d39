//! Entries as byte-oriented backends (Redis, custom) store them: JSON with the status, the
//! headers as `[name, value]` pairs and the body, each value and the body written as a JSON
//! string when it is UTF-8 (nearly free for text) and as `{"base64": "..."}` otherwise, and
//! the freshness fixed on arrival as `[initial_age, fresh_for, swr, sie]`. A
//! value that does not decode into a valid response is an error, read as a miss.

use std::sync::Arc;

use ::http::StatusCode;
use ::http::header::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::entry::{Entry, StoredResponse};
use super::freshness::Freshness;

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
        freshness: [u64; 4],
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
        /// Absent from entries written before freshness was stored: they are stale.
        #[serde(default)]
        freshness: [u64; 4],
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
                freshness: {
                    let f = &response.freshness;
                    [
                        f.initial_age,
                        f.fresh_for,
                        f.stale_while_revalidate,
                        f.stale_if_error,
                    ]
                },
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
                freshness:
                    [
                        initial_age,
                        fresh_for,
                        stale_while_revalidate,
                        stale_if_error,
                    ],
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
                    freshness: Freshness {
                        initial_age,
                        fresh_for,
                        stale_while_revalidate,
                        stale_if_error,
                    },
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
    use super::super::entry::fixtures::{response, sample};
    use super::*;

    fn round_trip(entry: &Entry) -> (String, Entry) {
        let json = serde_json::to_string(entry).unwrap();
        let back = serde_json::from_str(&json).unwrap();
        (json, back)
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
        assert_eq!(a.freshness, b.freshness);
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
}
