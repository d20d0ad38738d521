//! One Agent API request as a tool describes it, its reply, the [`Backend`] that delivers it, and the
//! mapping of a reply to a tool result: a 2xx JSON body becomes `structuredContent` (and the same JSON
//! as text); an error envelope becomes an `isError` result carrying that same envelope.

use std::future::Future;

use http::Method;
use rmcp::model::{CallToolResult, Extensions, MetaObject};
use serde_json::{Value, json};

/// A request to the Agent API, relative to its base (`/v1/agent`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    /// Path segments; each is percent-encoded, so an id can never change which route is called.
    pub segments: Vec<String>,
    /// Query parameters (absent values are simply not listed).
    pub query: Vec<(&'static str, String)>,
    /// JSON body, for POST/PUT.
    pub body: Option<Value>,
}

impl ApiRequest {
    pub fn get(segments: &[&str]) -> Self {
        Self {
            method: Method::GET,
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: None,
        }
    }

    pub fn post(segments: &[&str], body: Value) -> Self {
        Self {
            method: Method::POST,
            body: Some(body),
            ..Self::get(segments)
        }
    }

    pub fn put(segments: &[&str], body: Value) -> Self {
        Self {
            method: Method::PUT,
            body: Some(body),
            ..Self::get(segments)
        }
    }

    pub fn delete(segments: &[&str]) -> Self {
        Self {
            method: Method::DELETE,
            ..Self::get(segments)
        }
    }

    /// Add a query parameter when it has a value.
    pub fn param(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.query.push((name, value.to_string()));
        }
        self
    }

    /// `/seg/seg?name=value`, every part percent-encoded.
    pub fn path_and_query(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            out.push_str(&encode(segment));
        }
        for (i, (name, value)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(&encode(name));
            out.push('=');
            out.push_str(&encode(value));
        }
        out
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What the Agent API answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiReply {
    pub status: u16,
    /// The JSON body (`Null` if the body was not JSON).
    pub body: Value,
    /// The response carried `Idempotent-Replayed: true`.
    pub replayed: bool,
}

/// Delivers an [`ApiRequest`]: in-process for the hosted server, over HTTP for stdio.
pub trait Backend: Send + Sync + Clone + 'static {
    /// Send `request` on behalf of the caller described by `extensions` (the HTTP request parts of
    /// the MCP call when hosted; nothing over stdio). `Err` means the API could not be reached.
    fn send(
        &self,
        request: ApiRequest,
        extensions: &Extensions,
    ) -> impl Future<Output = Result<ApiReply, String>> + Send;
}

/// The `_meta` key telling that a result is the replay of an earlier call with the same
/// idempotency key (the `Idempotent-Replayed: true` header of REST).
pub const META_REPLAYED: &str = "agent-store/idempotentReplayed";

/// Turn an API reply into a tool result.
pub fn to_result(reply: ApiReply) -> CallToolResult {
    let success = (200..300).contains(&reply.status);
    let mut result = match reply.body {
        body @ Value::Object(_) if success => CallToolResult::structured(body),
        body if body.get("error").is_some_and(Value::is_object) => {
            CallToolResult::structured_error(body)
        }
        // Not the API's JSON (a proxy's error page, an empty body): still a readable error object.
        _ => CallToolResult::structured_error(error_object(
            "unexpected_response",
            &format!(
                "the Agent API answered HTTP {} without a JSON body",
                reply.status
            ),
        )),
    };
    if reply.replayed {
        let mut meta = MetaObject::new();
        meta.insert(META_REPLAYED.to_owned(), Value::Bool(true));
        result.meta = Some(meta);
    }
    result
}

/// An error envelope shaped like the API's, for failures that happen before the API answers.
pub fn error_object(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "details": {}, "requestId": null}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded_so_they_cannot_change_the_route() {
        let r = ApiRequest::get(&["purchases", "../wallet?x=1"]).param("limit", Some(5));
        assert_eq!(r.path_and_query(), "/purchases/..%2Fwallet%3Fx%3D1?limit=5");
        let r = ApiRequest::get(&["catalog", "items"])
            .param("q", Some("phone number"))
            .param("cursor", None::<String>);
        assert_eq!(r.path_and_query(), "/catalog/items?q=phone%20number");
    }

    #[test]
    fn success_is_structured_and_errors_carry_the_envelope() {
        let ok = to_result(ApiReply {
            status: 201,
            body: json!({"quote": {"id": "quote_1"}}),
            replayed: true,
        });
        assert_eq!(ok.is_error, Some(false));
        assert_eq!(
            ok.structured_content,
            Some(json!({"quote": {"id": "quote_1"}}))
        );
        assert!(ok.meta.is_some());
        let err = to_result(ApiReply {
            status: 403,
            body: json!({"error": {"code": "policy_denied"}}),
            replayed: false,
        });
        assert_eq!(err.is_error, Some(true));
        assert_eq!(
            err.structured_content,
            Some(json!({"error": {"code": "policy_denied"}}))
        );
        let odd = to_result(ApiReply {
            status: 502,
            body: Value::Null,
            replayed: false,
        });
        assert_eq!(odd.is_error, Some(true));
    }
}
