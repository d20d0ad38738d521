//! Test harness: start the real server (the same `start()` the binary uses) on 127.0.0.1:0 with a fresh
//! database (SQLite in a temp dir, or a new PostgreSQL database when AGENT_STORE_TEST_POSTGRES_URL is set),
//! and talk HTTP to it.

#![allow(dead_code)]

pub mod process;

use agent_store::{RunningServer, start};
use agent_store_app::identity::NewAccount;
use agent_store_app::{Config, Principal};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub client: reqwest::Client,
    pub base: String,
    pub dir: tempfile::TempDir,
}

/// A response: status, JSON body (Null when not JSON) and headers.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
    pub text: String,
}

/// An account with an account token.
#[derive(Debug, Clone)]
pub struct Owner {
    pub account_id: String,
    pub token: String,
    pub email: String,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".to_owned(),
            data_dir: dir.path().to_path_buf(),
            database_url: Some(
                agent_store_store::test_support::fresh_database_url(dir.path())
                    .await
                    .unwrap(),
            ),
            ..Config::default()
        };
        config.limits.rate_limit_per_second = 1000;
        config.limits.rate_limit_burst = 1000;
        adjust(&mut config);
        let server = start(config, None).await.unwrap();
        let base = server.base_url();
        Self {
            server: Some(server),
            client: reqwest::Client::new(),
            base,
            dir,
        }
    }

    pub fn app(&self) -> &agent_store_app::App {
        &self.server.as_ref().unwrap().app
    }

    /// Create an account (unique email) with an account token.
    pub async fn owner(&self) -> Owner {
        let email = format!(
            "owner-{}@example.com",
            agent_store_core::ids::new_id(agent_store_core::ids::IdKind::Event)
        );
        let account = self
            .app()
            .create_account(NewAccount {
                email: email.clone(),
                name: "Owner".into(),
                password: "correct horse battery".into(),
            })
            .await
            .unwrap();
        let token = self
            .app()
            .mint_account_token(&account.id, "test", None)
            .await
            .unwrap();
        Owner {
            account_id: account.id,
            token: token.token.unwrap(),
            email,
        }
    }

    /// Create an agent of `owner` with one key, through the Account API. Returns (agent id, key).
    pub async fn agent(&self, owner: &Owner, name: &str) -> (String, String) {
        let agent = self
            .post("/v1/account/agents", &owner.token, json!({"name": name}))
            .await;
        assert_eq!(agent.status, StatusCode::CREATED, "{:?}", agent.body);
        let agent_id = agent.body["agent"]["id"].as_str().unwrap().to_owned();
        let key = self
            .post(
                &format!("/v1/account/agents/{agent_id}/keys"),
                &owner.token,
                json!({"label": "test"}),
            )
            .await;
        assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
        (
            agent_id,
            key.body["apiKey"]["key"].as_str().unwrap().to_owned(),
        )
    }

    pub fn owner_principal(owner: &Owner) -> Principal {
        Principal::Account {
            account_id: owner.account_id.clone(),
            credential_id: "test".into(),
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Reply {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .bearer_auth(bearer),
        )
        .await
    }

    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> Reply {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .bearer_auth(bearer)
                .json(&body),
        )
        .await
    }

    pub async fn patch(&self, path: &str, bearer: &str, body: Value) -> Reply {
        self.send(
            self.client
                .patch(format!("{}{path}", self.base))
                .bearer_auth(bearer)
                .json(&body),
        )
        .await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Reply {
        self.send(
            self.client
                .delete(format!("{}{path}", self.base))
                .bearer_auth(bearer),
        )
        .await
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }
}

/// Assert an error envelope with `code` and `status`, returning the error object.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) -> Value {
    assert_eq!(reply.status, status, "body: {}", reply.text);
    let error = &reply.body["error"];
    assert_eq!(error["code"], code, "body: {}", reply.text);
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(error["requestId"].as_str().is_some_and(|m| !m.is_empty()));
    error.clone()
}

/// The field names listed in a validation error.
pub fn error_fields(reply: &Reply) -> Vec<String> {
    reply.body["error"]["details"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The reference configurations of SPEC section 14 with their expected totals.
pub fn reference_quotes() -> Vec<(&'static str, Value, i64)> {
    vec![
        (
            "cat_domain_com",
            json!({"domainName": "launchpad.com", "periodYears": 1, "autoRenew": true, "privacyProtection": true,
                   "registrantEmail": "ops@launchpad.com", "registrantCountry": "US"}),
            1499,
        ),
        (
            "cat_vps_micro",
            json!({"hostname": "deploy-node-01", "region": "eu-west", "image": "ubuntu-24.04", "billingTermMonths": 1,
                   "backupsEnabled": true}),
            2400,
        ),
        (
            "cat_storage_object_001",
            json!({"region": "us-east", "storageClass": "object", "capacityGb": 250}),
            500,
        ),
        (
            "cat_phone_global_001",
            json!({"countryCode": "US", "numberType": "local", "capabilities": ["sms", "voice"], "locality": "new-york",
                   "initialBalanceUsd": 10}),
            1250,
        ),
        (
            "cat_router_credit_001",
            json!({"creditAmountUsd": 25}),
            2500,
        ),
    ]
}

/// Assert every money invariant over the whole database (ledger balance, conservation, holds resolved
/// exactly once, purchase effects matching their status, spends in step).
pub async fn assert_books_balance(app: &agent_store_app::App) {
    let problems = agent_store_store::invariants::check(app.store().pool())
        .await
        .unwrap();
    assert!(
        problems.is_empty(),
        "money invariants broken:\n{}",
        problems.join("\n")
    );
}

/// Fund `owner`'s wallet with `amount_minor` cents through the Account API.
pub async fn fund(s: &TestServer, owner: &Owner, amount_minor: i64) {
    let key = agent_store_core::ids::new_id(agent_store_core::ids::IdKind::Event);
    let reply = s
        .post(
            "/v1/account/wallet/fundings",
            &owner.token,
            json!({"amountMinor": amount_minor, "idempotencyKey": key}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

/// Poll a purchase until it leaves `provisioning` (bounded: 10 s).
pub async fn wait_for_purchase(
    s: &TestServer,
    bearer: &str,
    base: &str,
    purchase_id: &str,
) -> Value {
    for _ in 0..200 {
        let reply = s
            .get(&format!("{base}/purchases/{purchase_id}"), bearer)
            .await;
        let status = reply.body["purchase"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status != "provisioning" {
            return reply.body["purchase"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("purchase {purchase_id} still provisioning after 10 s");
}
