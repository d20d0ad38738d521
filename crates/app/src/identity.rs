//! Identity: accounts, agents, agent API keys and account tokens, and turning a bearer credential into a
//! [`Principal`]. Secrets are minted here, returned once, and only their keyed hashes are stored.

use agent_store_core::FieldErrors;
use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::keys::{CredentialKind, parse_credential};
use agent_store_core::time::{now_ms, parse_rfc3339};
use agent_store_store::credentials::{self, Credential, KIND_ACCOUNT_TOKEN, KIND_AGENT_KEY};
use agent_store_store::{StoreError, accounts, agents};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::pagination::{Page, PageRequest};
use crate::views::{AccountTokenView, AccountView, AgentView, ApiKeyView};
use crate::{App, AppError, AppResult, Principal};

/// Longest accepted name or label.
const MAX_NAME_LEN: usize = 100;

/// Which credentials a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `/v1/agent/*` and `/mcp`: agent API keys.
    Agent,
    /// `/v1/account/*`: account tokens.
    Account,
}

/// Input for creating an account (CLI and demo seeding).
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub name: String,
    pub password: String,
}

/// Validate a display name or label: 1 to 100 characters, no control characters.
pub fn validate_name(fields: &mut FieldErrors, field: &str, value: &str) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        fields.push(field, "must not be empty");
    } else if trimmed.chars().count() > MAX_NAME_LEN {
        fields.push(field, "must be at most 100 characters");
    } else if trimmed.chars().any(char::is_control) {
        fields.push(field, "must not contain control characters");
    }
    trimmed.to_owned()
}

/// Parse an optional `expiresAt`, which must lie in the future.
fn parse_expiry(fields: &mut FieldErrors, value: Option<&str>, now: i64) -> Option<i64> {
    let text = value?;
    match parse_rfc3339(text) {
        Some(ms) if ms > now => Some(ms),
        Some(_) => {
            fields.push("expiresAt", "must be in the future");
            None
        }
        None => {
            fields.push(
                "expiresAt",
                "must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z",
            );
            None
        }
    }
}

pub(crate) fn require_account(principal: &Principal) -> AppResult<&str> {
    match principal {
        Principal::Account { account_id, .. } => Ok(account_id),
        Principal::Agent { .. } => Err(AppError::Forbidden(
            "this operation needs an account token".to_owned(),
        )),
    }
}

/// Hash a password with argon2id (off the async threads: it is deliberately slow).
pub async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// Check a password against a stored argon2 hash.
pub async fn verify_password(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

impl App {
    /// Resolve a bearer credential for a route of `audience`. Every failure is the same
    /// `Unauthenticated`, so a caller learns nothing about which part was wrong.
    pub async fn authenticate(&self, bearer: &str, audience: Audience) -> AppResult<Principal> {
        let parsed = parse_credential(bearer).ok_or(AppError::Unauthenticated)?;
        let expected = match audience {
            Audience::Agent => CredentialKind::AgentKey,
            Audience::Account => CredentialKind::AccountToken,
        };
        if parsed.kind != expected {
            return Err(AppError::Unauthenticated);
        }
        let found = credentials::get_for_auth(self.store().pool(), &parsed.key_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let c = &found.credential;
        let now = now_ms();
        let kind_matches = match expected {
            CredentialKind::AgentKey => c.kind == KIND_AGENT_KEY,
            _ => c.kind == KIND_ACCOUNT_TOKEN,
        };
        if !kind_matches
            || !self.pepper().verify(&parsed, &c.secret_hash)
            || c.revoked_at.is_some()
            || c.expires_at.is_some_and(|exp| now >= exp)
            || found.agent_status.as_deref().is_some_and(|s| s != "active")
        {
            return Err(AppError::Unauthenticated);
        }
        if c.last_used_at
            .is_none_or(|t| t < now - credentials::LAST_USED_GRANULARITY_MS)
        {
            // Best effort: a failed bookkeeping write must not fail the request.
            if let Err(err) = credentials::touch(self.store().pool(), &c.id, now).await {
                tracing::warn!(key_id = %c.id, error = %err, "could not record credential use");
            }
        }
        Ok(match &c.agent_id {
            Some(agent_id) => Principal::Agent {
                account_id: c.account_id.clone(),
                agent_id: agent_id.clone(),
                key_id: c.id.clone(),
            },
            None => Principal::Account {
                account_id: c.account_id.clone(),
                credential_id: c.id.clone(),
            },
        })
    }

    /// Create an account (CLI, demo seeding). Emails are unique, case-insensitively.
    pub async fn create_account(&self, input: NewAccount) -> AppResult<AccountView> {
        let mut fields = FieldErrors::new();
        let email = input.email.trim().to_ascii_lowercase();
        if !is_plausible_email(&email) {
            fields.push("email", "must be an email address");
        }
        let name = validate_name(&mut fields, "name", &input.name);
        if input.password.chars().count() < 8 || input.password.len() > 1024 {
            fields.push("password", "must be 8 to 1024 characters");
        }
        fields.finish(()).map_err(AppError::validation)?;
        let password_hash = hash_password(input.password).await?;
        let now = now_ms();
        let account = accounts::Account {
            id: new_id(IdKind::Account),
            email,
            name,
            password_hash,
            created_at: now,
            updated_at: now,
        };
        // The account and its wallet ledger accounts exist together or not at all.
        let mut tx = self.store().begin_write().await?;
        match accounts::insert(&mut *tx, &account).await {
            Ok(()) => {}
            Err(StoreError::UniqueViolation) => {
                return Err(AppError::invalid_field("email", "is already registered"));
            }
            Err(e) => return Err(e.into()),
        }
        accounts::create_wallet(&mut tx, &account.id, now).await?;
        agent_store_store::commit(tx).await?;
        Ok(account.into())
    }

    /// Find an account by email (CLI).
    pub async fn account_by_email(&self, email: &str) -> AppResult<accounts::Account> {
        accounts::get_by_email(self.store().pool(), &email.trim().to_ascii_lowercase())
            .await?
            .ok_or(AppError::NotFound("account"))
    }

    /// The acting account's profile.
    pub async fn get_account(&self, principal: &Principal) -> AppResult<AccountView> {
        let account = accounts::get(self.store().pool(), principal.account_id())
            .await?
            .ok_or(AppError::NotFound("account"))?;
        Ok(account.into())
    }

    pub async fn create_agent(&self, principal: &Principal, name: &str) -> AppResult<AgentView> {
        let account_id = require_account(principal)?;
        let mut fields = FieldErrors::new();
        let name = validate_name(&mut fields, "name", name);
        fields.finish(()).map_err(AppError::validation)?;
        let now = now_ms();
        let agent = agents::Agent {
            id: new_id(IdKind::Agent),
            account_id: account_id.to_owned(),
            name,
            status: "active".to_owned(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store().begin_write().await?;
        agents::insert(&mut *tx, &agent).await?;
        self.audit_change(
            &mut tx,
            principal,
            "agent.created",
            "agent",
            &agent.id,
            None,
            Some("active"),
        )
        .await?;
        agent_store_store::commit(tx).await?;
        Ok(agent.into())
    }

    pub async fn list_agents(
        &self,
        principal: &Principal,
        page: &PageRequest,
    ) -> AppResult<Page<AgentView>> {
        let account_id = require_account(principal)?;
        let rows = agents::list(
            self.store().pool(),
            account_id,
            page.cursor.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |a| a.id.clone(),
            AgentView::from,
        ))
    }

    pub async fn get_agent(&self, principal: &Principal, agent_id: &str) -> AppResult<AgentView> {
        let account_id = require_account(principal)?;
        let agent = agents::get(self.store().pool(), account_id, agent_id)
            .await?
            .ok_or(AppError::NotFound("agent"))?;
        Ok(agent.into())
    }

    /// Rename and/or change status (`active` / `suspended`). Suspension stops every key of the agent at
    /// once, since authentication reads the agent's status on each request.
    pub async fn update_agent(
        &self,
        principal: &Principal,
        agent_id: &str,
        name: Option<&str>,
        status: Option<&str>,
    ) -> AppResult<AgentView> {
        let account_id = require_account(principal)?;
        let mut fields = FieldErrors::new();
        let name = name.map(|n| validate_name(&mut fields, "name", n));
        if let Some(s) = status
            && s != "active"
            && s != "suspended"
        {
            fields.push("status", "must be active or suspended");
        }
        fields.finish(()).map_err(AppError::validation)?;
        let mut tx = self.store().begin_write().await?;
        let before = agents::get(&mut *tx, account_id, agent_id)
            .await?
            .ok_or(AppError::NotFound("agent"))?;
        let agent = agents::update(
            &mut *tx,
            account_id,
            agent_id,
            name.as_deref(),
            status,
            now_ms(),
        )
        .await?
        .ok_or(AppError::NotFound("agent"))?;
        let action = match status {
            Some("suspended") => "agent.suspended",
            Some(_) => "agent.resumed",
            None => "agent.renamed",
        };
        self.audit_change(
            &mut tx,
            principal,
            action,
            "agent",
            &agent.id,
            Some(&before.status),
            Some(&agent.status),
        )
        .await?;
        agent_store_store::commit(tx).await?;
        Ok(agent.into())
    }

    /// Mint a key for one of the account's agents; the plaintext is in the result only.
    pub async fn create_agent_key(
        &self,
        principal: &Principal,
        agent_id: &str,
        label: &str,
        expires_at: Option<&str>,
    ) -> AppResult<ApiKeyView> {
        let account_id = require_account(principal)?;
        let now = now_ms();
        let mut fields = FieldErrors::new();
        let label = validate_name(&mut fields, "label", label);
        let expires_at = parse_expiry(&mut fields, expires_at, now);
        fields.finish(()).map_err(AppError::validation)?;
        agents::get(self.store().pool(), account_id, agent_id)
            .await?
            .ok_or(AppError::NotFound("agent"))?;
        let minted = self.pepper().mint(CredentialKind::AgentKey);
        let credential = Credential {
            id: minted.key_id.clone(),
            kind: KIND_AGENT_KEY.to_owned(),
            account_id: account_id.to_owned(),
            agent_id: Some(agent_id.to_owned()),
            label,
            secret_hash: minted.secret_hash.clone(),
            created_at: now,
            last_used_at: None,
            expires_at,
            revoked_at: None,
        };
        let mut tx = self.store().begin_write().await?;
        credentials::insert(&mut *tx, &credential).await?;
        self.audit_change(
            &mut tx,
            principal,
            "key.created",
            "key",
            &credential.id,
            None,
            Some("active"),
        )
        .await?;
        agent_store_store::commit(tx).await?;
        Ok(ApiKeyView::new(credential, Some(minted.plaintext)))
    }

    pub async fn list_agent_keys(
        &self,
        principal: &Principal,
        agent_id: &str,
        page: &PageRequest,
    ) -> AppResult<Page<ApiKeyView>> {
        let account_id = require_account(principal)?;
        agents::get(self.store().pool(), account_id, agent_id)
            .await?
            .ok_or(AppError::NotFound("agent"))?;
        let rows = credentials::list(
            self.store().pool(),
            account_id,
            KIND_AGENT_KEY,
            Some(agent_id),
            page.cursor.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |c| c.id.clone(),
            |c| ApiKeyView::new(c, None),
        ))
    }

    /// Revoke an agent key; effective on the next request, on every node (auth reads the row).
    pub async fn revoke_agent_key(
        &self,
        principal: &Principal,
        agent_id: &str,
        key_id: &str,
    ) -> AppResult<ApiKeyView> {
        let account_id = require_account(principal)?;
        let mut tx = self.store().begin_write().await?;
        let c = credentials::revoke(
            &mut *tx,
            account_id,
            KIND_AGENT_KEY,
            Some(agent_id),
            key_id,
            now_ms(),
        )
        .await?
        .ok_or(AppError::NotFound("key"))?;
        self.audit_change(
            &mut tx,
            principal,
            "key.revoked",
            "key",
            &c.id,
            Some("active"),
            Some("revoked"),
        )
        .await?;
        agent_store_store::commit(tx).await?;
        Ok(ApiKeyView::new(c, None))
    }

    /// Mint an account token for `account_id` (used by the CLI and by the Account API).
    pub async fn mint_account_token(
        &self,
        account_id: &str,
        label: &str,
        expires_at: Option<&str>,
    ) -> AppResult<AccountTokenView> {
        let now = now_ms();
        let mut fields = FieldErrors::new();
        let label = validate_name(&mut fields, "label", label);
        let expires_at = parse_expiry(&mut fields, expires_at, now);
        fields.finish(()).map_err(AppError::validation)?;
        let minted = self.pepper().mint(CredentialKind::AccountToken);
        let credential = Credential {
            id: minted.key_id.clone(),
            kind: KIND_ACCOUNT_TOKEN.to_owned(),
            account_id: account_id.to_owned(),
            agent_id: None,
            label,
            secret_hash: minted.secret_hash.clone(),
            created_at: now,
            last_used_at: None,
            expires_at,
            revoked_at: None,
        };
        let mut tx = self.store().begin_write().await?;
        credentials::insert(&mut *tx, &credential).await?;
        let actor = Principal::Account {
            account_id: account_id.to_owned(),
            credential_id: credential.id.clone(),
        };
        self.audit_change(
            &mut tx,
            &actor,
            "token.created",
            "token",
            &credential.id,
            None,
            Some("active"),
        )
        .await?;
        agent_store_store::commit(tx).await?;
        Ok(AccountTokenView::new(credential, Some(minted.plaintext)))
    }

    pub async fn create_account_token(
        &self,
        principal: &Principal,
        label: &str,
        expires_at: Option<&str>,
    ) -> AppResult<AccountTokenView> {
        let account_id = require_account(principal)?.to_owned();
        self.mint_account_token(&account_id, label, expires_at)
            .await
    }

    pub async fn list_account_tokens(
        &self,
        principal: &Principal,
        page: &PageRequest,
    ) -> AppResult<Page<AccountTokenView>> {
        let account_id = require_account(principal)?;
        let rows = credentials::list(
            self.store().pool(),
            account_id,
            KIND_ACCOUNT_TOKEN,
            None,
            page.cursor.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |c| c.id.clone(),
            |c| AccountTokenView::new(c, None),
        ))
    }

    pub async fn revoke_account_token(
        &self,
        principal: &Principal,
        token_id: &str,
    ) -> AppResult<AccountTokenView> {
        let account_id = require_account(principal)?;
        let mut tx = self.store().begin_write().await?;
        let c = credentials::revoke(
            &mut *tx,
            account_id,
            KIND_ACCOUNT_TOKEN,
            None,
            token_id,
            now_ms(),
        )
        .await?
        .ok_or(AppError::NotFound("token"))?;
        self.audit_change(
            &mut tx,
            principal,
            "token.revoked",
            "token",
            &c.id,
            Some("active"),
            Some("revoked"),
        )
        .await?;
        agent_store_store::commit(tx).await?;
        Ok(AccountTokenView::new(c, None))
    }
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain, no whitespace.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl App {
    /// Record an identity change in the audit log, inside the transaction that made it.
    #[allow(clippy::too_many_arguments, reason = "one audit event's fields")]
    async fn audit_change(
        &self,
        conn: &mut agent_store_store::AnyConnection,
        principal: &Principal,
        action: &str,
        object_type: &str,
        object_id: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> AppResult<()> {
        let change = crate::audit::Change {
            action,
            object_type,
            object_id,
            before,
            after,
            details: serde_json::json!({}),
        };
        crate::audit::record(conn, principal.account_id(), Some(principal), &change).await
    }
}
