//! Idempotency keys (SPEC section 2). A keyed request is fingerprinted (method, path, canonical body
//! without the key itself); its first successful response is stored in the same transaction as its
//! effects; a retry with the same key and fingerprint replays that response byte for byte, and a
//! different request with the same key is refused with `idempotency_key_mismatch`.
//!
//! Concurrent duplicates do not race: spends take the account's lock first and re-check the key under
//! it, so the second request waits for the first to commit and then replays it. Rejections (validation,
//! policy denial, insufficient funds) are not stored: nothing was created, so retrying the same key
//! after fixing the cause is safe and cannot pay twice.

use agent_store_core::time::{SECOND_MS, now_ms};
use agent_store_store::{AnyConnection, idempotency};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{App, AppError, AppResult, Principal};

/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// An idempotency key with the fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct Keyed {
    pub key: String,
    pub request_hash: String,
}

/// A response that can be replayed exactly: status and the JSON body text.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    /// True when this is a replay of an earlier request's response.
    pub replayed: bool,
}

/// Validate a key: 1 to 255 printable ASCII characters.
pub fn validate_key(field: &str, key: &str) -> AppResult<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err(AppError::invalid_field(
            field,
            "must be 1 to 255 printable ASCII characters",
        ));
    }
    Ok(())
}

/// Resolve the key of a request from the `Idempotency-Key` header and/or the `idempotencyKey` body field
/// (they must agree when both are present), and fingerprint the request.
pub fn keyed_request(
    header: Option<&str>,
    body_key: Option<&str>,
    method: &str,
    path: &str,
    body: &Value,
) -> AppResult<Option<Keyed>> {
    let key = match (header, body_key) {
        (Some(h), Some(b)) if h != b => {
            return Err(AppError::invalid_field(
                "idempotencyKey",
                "differs from the Idempotency-Key header",
            ));
        }
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => return Ok(None),
    };
    validate_key("idempotencyKey", key)?;
    Ok(Some(Keyed {
        key: key.to_owned(),
        request_hash: fingerprint(method, path, body),
    }))
}

/// SHA-256 over the method, path and the canonical JSON of the body without `idempotencyKey`.
pub fn fingerprint(method: &str, path: &str, body: &Value) -> String {
    let mut body = body.clone();
    if let Value::Object(map) = &mut body {
        map.remove("idempotencyKey");
    }
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical(&body).as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// JSON with object keys sorted at every level, so key order never changes a fingerprint.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// The scope of keys: one agent, or the account acting as itself.
pub fn scope(principal: &Principal) -> String {
    match principal {
        Principal::Agent { agent_id, .. } => format!("agent:{agent_id}"),
        Principal::Account { account_id, .. } => format!("account:{account_id}"),
    }
}

impl App {
    /// Look up a stored response for `keyed`: `Ok(Some)` to replay, `Err` on mismatch, `Ok(None)` if new.
    pub(crate) async fn idempotent_lookup(
        &self,
        conn: Option<&mut AnyConnection>,
        scope: &str,
        keyed: &Keyed,
    ) -> AppResult<Option<StoredResponse>> {
        let record = match conn {
            Some(conn) => idempotency::get(conn, scope, &keyed.key).await?,
            None => idempotency::get(self.store().pool(), scope, &keyed.key).await?,
        };
        match record {
            None => Ok(None),
            Some(r) if r.request_hash == keyed.request_hash => Ok(Some(StoredResponse {
                status: u16::try_from(r.response_status).unwrap_or(200),
                body: r.response_body,
                replayed: true,
            })),
            Some(_) => Err(AppError::IdempotencyMismatch),
        }
    }

    /// Store the response of a keyed request inside the transaction that made its effects.
    pub(crate) async fn idempotent_store(
        &self,
        conn: &mut AnyConnection,
        scope: &str,
        keyed: &Keyed,
        status: u16,
        body: &str,
    ) -> AppResult<()> {
        let now = now_ms();
        let retention =
            i64::try_from(self.config().idempotency.retention_seconds).unwrap_or(i64::MAX / 2000);
        let record = idempotency::Record {
            scope: scope.to_owned(),
            idem_key: keyed.key.clone(),
            request_hash: keyed.request_hash.clone(),
            response_status: i64::from(status),
            response_body: body.to_owned(),
            created_at: now,
            expires_at: now.saturating_add(retention.saturating_mul(SECOND_MS)),
        };
        if !idempotency::insert(conn, &record).await? {
            // Only reachable if two requests with one key were not serialized by the account lock.
            return Err(AppError::Conflict(
                "a request with this idempotency key is in progress; retry it".to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_the_key_field_do_not_change_the_fingerprint() {
        let a = fingerprint(
            "POST",
            "/p",
            &json!({"a": 1, "b": {"y": 2, "x": [1, {"k": 1, "j": 2}]}, "idempotencyKey": "k1"}),
        );
        let b = fingerprint(
            "POST",
            "/p",
            &json!({"b": {"x": [1, {"j": 2, "k": 1}], "y": 2}, "a": 1}),
        );
        assert_eq!(a, b);
        assert_ne!(a, fingerprint("POST", "/p", &json!({"a": 2})));
        assert_ne!(
            a,
            fingerprint(
                "POST",
                "/q",
                &json!({"a": 1, "b": {"y": 2, "x": [1, {"k": 1, "j": 2}]}})
            )
        );
    }

    #[test]
    fn header_and_body_keys_must_agree() {
        assert!(keyed_request(Some("a"), Some("b"), "POST", "/p", &json!({})).is_err());
        assert!(
            keyed_request(Some("a"), Some("a"), "POST", "/p", &json!({}))
                .unwrap()
                .is_some()
        );
        assert!(
            keyed_request(None, None, "POST", "/p", &json!({}))
                .unwrap()
                .is_none()
        );
        assert!(keyed_request(Some(""), None, "POST", "/p", &json!({})).is_err());
        assert!(keyed_request(Some(&"x".repeat(256)), None, "POST", "/p", &json!({})).is_err());
        assert!(keyed_request(Some("tab\there"), None, "POST", "/p", &json!({})).is_err());
    }
}
