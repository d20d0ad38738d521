//! Dashboard sessions: email + password sign-in (argon2id), the session behind the HttpOnly cookie,
//! and its CSRF token. A session authenticates as `Principal::Account` with the session id
//! (`ses_...`) as the credential id, so the Account API and the audit log treat it like a token.

use std::sync::OnceLock;

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::time::now_ms;
use agent_store_store::{accounts, sessions};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Principal};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "agent_store_session";
/// Header that carries the CSRF token on cookie-authenticated API calls (and htmx requests).
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends this long after sign-in, whatever happens.
pub const SESSION_MAX_MS: i64 = 12 * 60 * 60 * 1000;
/// A session ends after this long without a request.
pub const SESSION_IDLE_MS: i64 = 2 * 60 * 60 * 1000;
/// Activity is written at most this often per session.
const TOUCH_GRANULARITY_MS: i64 = 60 * 1000;

/// A session just created; `token` goes into the cookie and is never stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub token: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// An authenticated session.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub principal: Principal,
    pub session_id: String,
    pub csrf_token: String,
}

fn random_hex() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a session token, hex. The token has 256 bits of entropy, so a plain hash is enough.
fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compare two strings in constant time (for CSRF tokens).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A hash to verify against when the email is unknown, so both failures cost the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(b"not a password of anyone", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

impl App {
    /// Check email and password; on success create a session. A wrong email and a wrong password are
    /// the same `Unauthenticated` and take the same time.
    pub async fn sign_in(&self, email: &str, password: &str) -> AppResult<NewSession> {
        let email = email.trim().to_ascii_lowercase();
        let account = accounts::get_by_email(self.store().pool(), &email).await?;
        let stored = match &account {
            Some(a) => a.password_hash.clone(),
            None => tokio::task::spawn_blocking(|| dummy_hash().to_owned())
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let ok = crate::identity::verify_password(password.to_owned(), stored).await;
        let account = match account {
            Some(a) if ok => a,
            _ => return Err(AppError::Unauthenticated),
        };
        let now = now_ms();
        let session = sessions::Session {
            id: new_id(IdKind::Session),
            token_hash: String::new(),
            account_id: account.id.clone(),
            csrf_token: random_hex(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + SESSION_MAX_MS,
        };
        let token = random_hex();
        let session = sessions::Session {
            token_hash: token_hash(&token),
            ..session
        };
        let mut tx = self.store().begin_write().await?;
        sessions::purge(&mut *tx, now, now - SESSION_IDLE_MS).await?;
        sessions::insert(&mut *tx, &session).await?;
        let actor = Principal::Account {
            account_id: account.id.clone(),
            credential_id: session.id.clone(),
        };
        let change = Change {
            action: "session.created",
            object_type: "session",
            object_id: &session.id,
            before: None,
            after: Some("active"),
            details: json!({"expiresInSeconds": SESSION_MAX_MS / 1000}),
        };
        audit::record(&mut *tx, &account.id, Some(&actor), &change).await?;
        agent_store_store::commit(tx).await?;
        Ok(NewSession {
            id: session.id,
            token,
            csrf_token: session.csrf_token,
            expires_at: session.expires_at,
        })
    }

    /// Resolve a session cookie. Expired or unknown: `Unauthenticated` (an expired row is deleted).
    pub async fn authenticate_session(&self, token: &str) -> AppResult<ActiveSession> {
        if token.is_empty() || token.len() > 128 {
            return Err(AppError::Unauthenticated);
        }
        let hash = token_hash(token);
        let pool = self.store().pool();
        let session = sessions::get_by_token_hash(pool, &hash)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let now = now_ms();
        if now >= session.expires_at || now - session.last_seen_at >= SESSION_IDLE_MS {
            sessions::delete_by_token_hash(pool, &hash).await?;
            return Err(AppError::Unauthenticated);
        }
        if now - session.last_seen_at >= TOUCH_GRANULARITY_MS
            && let Err(err) = sessions::touch(pool, &session.id, now).await
        {
            tracing::warn!(session_id = %session.id, error = %err, "could not record session use");
        }
        Ok(ActiveSession {
            principal: Principal::Account {
                account_id: session.account_id,
                credential_id: session.id.clone(),
            },
            session_id: session.id,
            csrf_token: session.csrf_token,
        })
    }

    /// End a session (sign-out). Unknown tokens are ignored: signing out twice is fine.
    pub async fn sign_out(&self, token: &str) -> AppResult<()> {
        let hash = token_hash(token);
        let Some(session) = sessions::get_by_token_hash(self.store().pool(), &hash).await? else {
            return Ok(());
        };
        let mut tx = self.store().begin_write().await?;
        if sessions::delete_by_token_hash(&mut *tx, &hash).await? {
            let actor = Principal::Account {
                account_id: session.account_id.clone(),
                credential_id: session.id.clone(),
            };
            let change = Change {
                action: "session.ended",
                object_type: "session",
                object_id: &session.id,
                before: Some("active"),
                after: Some("ended"),
                details: json!({}),
            };
            audit::record(&mut *tx, &session.account_id, Some(&actor), &change).await?;
        }
        agent_store_store::commit(tx).await?;
        Ok(())
    }
}
