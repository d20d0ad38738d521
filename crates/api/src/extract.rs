//! Extractors that parse at the edge and turn every malformed input into a `validation_failed` error
//! naming the field (or `payload_too_large` past the body limit), never a 500 or a plain-text rejection.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The body limit of SPEC section 2.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON body deserialized into `T` (whose serde attributes refuse unknown fields).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Deserialize JSON, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body of the API is an object. serde's derived structs would also accept a JSON array
    // (fields by position: `[null]` read as an empty policy), so anything else is refused up front.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = result.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid("body", format!("is not valid JSON ({message})"));
        }
        // serde reports an unknown key at its parent; name the key itself.
        if let Some(rest) = message.strip_prefix("unknown field `")
            && let Some((name, _)) = rest.split_once('`')
        {
            let field = if path == "." {
                name.to_owned()
            } else if path.ends_with(name) {
                path
            } else {
                format!("{path}.{name}")
            };
            return ApiError::invalid(&field, "is not a known field");
        }
        let field = if path == "." { "body".to_owned() } else { path };
        // Drop serde's " at line 1 column 9" suffix: the field path says where.
        let message = message.split(" at line ").next().unwrap_or_default();
        ApiError::invalid(&field, shorten_quoted(message))
    })?;
    deserializer
        .end()
        .map_err(|_| ApiError::invalid("body", "has trailing characters after the JSON value"))?;
    Ok(value)
}

/// Longest stretch of the client's own input quoted back in an error message.
const MAX_QUOTED_CHARS: usize = 32;

/// serde quotes the offending input in its messages (`invalid type: string "...", expected i64`,
/// ``unknown variant `...` ``). Cut each quoted stretch short: a 1 MB string in a number field was
/// answered with 2 MB of error (message and field detail), and input that happened to be a secret
/// pasted into the wrong field was echoed back whole.
fn shorten_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(256));
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' && c != '`' {
            continue;
        }
        let mut quoted = String::new();
        let mut closed = false;
        for q in chars.by_ref() {
            if q == c {
                closed = true;
                break;
            }
            quoted.push(q);
        }
        if quoted.chars().count() > MAX_QUOTED_CHARS {
            out.extend(quoted.chars().take(MAX_QUOTED_CHARS));
            out.push_str("...");
        } else {
            out.push_str(&quoted);
        }
        if closed {
            out.push(c);
        }
    }
    out
}

/// Query parameters deserialized into `T`, with errors naming the parameter.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| QueryParams(v))
            .map_err(|rejection| ApiError::invalid("query", rejection.body_text()))
    }
}

/// A JSON body that may be empty (an empty body reads as `T::default()`), for action routes such as
/// `POST /purchases/{id}/approve` whose body is optional.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(OptionalJsonBody)
    }
}

/// A JSON body plus the idempotency key of the request (`Idempotency-Key` header and/or the body's
/// `idempotencyKey`, which must agree) and the request's fingerprint.
#[derive(Debug)]
pub struct KeyedJson<T> {
    pub body: T,
    pub keyed: Option<agent_store_app::idempotency::Keyed>,
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for KeyedJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let header = match request.headers().get("idempotency-key") {
            Some(v) => Some(
                v.to_str()
                    .map_err(|_| ApiError::invalid("Idempotency-Key", "must be printable ASCII"))?
                    .to_owned(),
            ),
            None => None,
        };
        let bytes = read_body(request, state).await?;
        let (body, raw) = if bytes.iter().all(u8::is_ascii_whitespace) {
            (
                T::default(),
                serde_json::Value::Object(serde_json::Map::new()),
            )
        } else {
            (
                parse_json::<T>(&bytes)?,
                parse_json::<serde_json::Value>(&bytes)?,
            )
        };
        let body_key = raw
            .get("idempotencyKey")
            .and_then(serde_json::Value::as_str);
        let keyed = agent_store_app::idempotency::keyed_request(
            header.as_deref(),
            body_key,
            &method,
            &path,
            &raw,
        )?;
        Ok(Self { body, keyed })
    }
}

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    if let Some(content_type) = request.headers().get(axum::http::header::CONTENT_TYPE) {
        let ct = content_type
            .to_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !(ct.starts_with("application/json") || ct.contains("+json")) {
            return Err(ApiError::invalid(
                "body",
                "Content-Type must be application/json",
            ));
        }
    }
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else if crate::slow_client::is_deadline_error(&rejection.body_text()) {
                ApiError::request_timeout()
            } else {
                ApiError::invalid("body", "could not be read")
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code, reason = "only parsed")]
        limit: Option<i64>,
    }

    #[test]
    fn a_long_wrong_value_is_not_echoed_back_whole() {
        let long = "s".repeat(100_000);
        let err = parse_json::<Body>(format!("{{\"limit\": \"{long}\"}}").as_bytes()).unwrap_err();
        assert!(err.message.len() < 200, "{}", err.message);
        assert!(err.message.contains("expected i64"), "{}", err.message);
        assert_eq!(
            shorten_quoted("unknown variant `ab`"),
            "unknown variant `ab`"
        );
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_refused_even_where_serde_would_take_an_array() {
        for bad in [
            &b"[null]"[..],
            b" [1]",
            b"null",
            b"42",
            b"\"x\"",
            b"",
            b"  ",
        ] {
            let err = parse_json::<Body>(bad).unwrap_err();
            assert!(
                format!("{err:?}").contains("must be a JSON object"),
                "{}: {err:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse_json::<Body>(b" {\"limit\": 1}").is_ok());
        assert!(parse_json::<Body>(b"{\"limit\": 1} x").is_err());
    }
}
