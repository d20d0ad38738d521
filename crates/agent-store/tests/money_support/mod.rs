//! Helpers shared by the money test files (flows, approvals, policies): wallet figures, quotes,
//! purchases, policy layers, audit events and polling.

#![allow(dead_code)]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Owner, Reply, TestServer};

pub const AGENT: &str = "/v1/agent";
pub const ACCOUNT: &str = "/v1/account";

/// A fresh, unique idempotency key.
pub fn new_key(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        agent_store_core::ids::new_id(agent_store_core::ids::IdKind::Event)
    )
}

/// The key id inside an agent API key (`ask_live_<keyId>.<secret>`).
pub fn key_id(api_key: &str) -> String {
    let rest = api_key.strip_prefix("ask_live_").expect("an agent api key");
    rest.split('.').next().unwrap().to_owned()
}

/// (balanceMinor, heldMinor, availableMinor) as seen by `bearer` under `base`.
pub async fn wallet(s: &TestServer, bearer: &str, base: &str) -> (i64, i64, i64) {
    let reply = s.get(&format!("{base}/wallet"), bearer).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let w = &reply.body["wallet"];
    assert_eq!(w["currency"], "usd");
    let balance = w["balanceMinor"].as_i64().unwrap();
    let held = w["heldMinor"].as_i64().unwrap();
    let available = w["availableMinor"].as_i64().unwrap();
    assert_eq!(available, balance - held, "available = balance - held");
    (balance, held, available)
}

/// Assert the account wallet figures, seen identically from the Account API.
pub async fn assert_wallet(s: &TestServer, owner: &Owner, balance: i64, held: i64, available: i64) {
    assert_eq!(
        wallet(s, &owner.token, ACCOUNT).await,
        (balance, held, available),
        "wallet (balance, held, available)"
    );
}

/// Create a quote as the agent (or account when `base` is ACCOUNT); returns the quote object.
pub async fn quote(
    s: &TestServer,
    bearer: &str,
    base: &str,
    item: &str,
    configuration: Value,
) -> Value {
    quote_n(s, bearer, base, item, 1, configuration).await
}

pub async fn quote_n(
    s: &TestServer,
    bearer: &str,
    base: &str,
    item: &str,
    quantity: i64,
    configuration: Value,
) -> Value {
    let reply = s
        .post(
            &format!("{base}/quotes"),
            bearer,
            json!({"catalogItemId": item, "quantity": quantity, "configuration": configuration}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["quote"].clone()
}

/// POST /purchases with an arbitrary body.
pub async fn purchase_raw(s: &TestServer, bearer: &str, base: &str, body: Value) -> Reply {
    s.post(&format!("{base}/purchases"), bearer, body).await
}

/// Buy a quote with a fresh key; asserts 201 and returns the purchase object.
pub async fn buy_quote(s: &TestServer, bearer: &str, base: &str, quote_id: &str) -> Value {
    let reply = purchase_raw(
        s,
        bearer,
        base,
        json!({"quoteId": quote_id, "idempotencyKey": new_key("buy")}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["purchase"].clone()
}

/// Implicit-quote purchase with a fresh key; returns the raw reply.
pub async fn buy_item(
    s: &TestServer,
    bearer: &str,
    base: &str,
    item: &str,
    configuration: Value,
) -> Reply {
    purchase_raw(
        s,
        bearer,
        base,
        json!({"catalogItemId": item, "quantity": 1, "configuration": configuration,
               "idempotencyKey": new_key("buy")}),
    )
    .await
}

/// A VPS micro configuration (2000 without backups, 2400 with), with a unique hostname.
pub fn vps(hostname: &str, backups: bool) -> Value {
    json!({"hostname": hostname, "region": "eu-west", "image": "ubuntu-24.04", "billingTermMonths": 1,
           "backupsEnabled": backups})
}

/// Router credits of `usd` dollars (total = usd * 100 cents).
pub fn credits(usd: i64) -> Value {
    json!({"creditAmountUsd": usd})
}

/// Object storage of `gb` (2 cents per GB-month: 250 GB = 500).
pub fn object_storage(gb: i64) -> Value {
    json!({"region": "us-east", "storageClass": "object", "capacityGb": gb})
}

/// Buy `item` with `configuration` as `bearer`, expecting 201, and return the purchase.
pub async fn buy_ok(
    s: &TestServer,
    bearer: &str,
    base: &str,
    item: &str,
    configuration: Value,
) -> Value {
    let reply = buy_item(s, bearer, base, item, configuration).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["purchase"].clone()
}

/// Poll a purchase until its status is `want` (bounded: 15 s).
pub async fn wait_status(s: &TestServer, bearer: &str, base: &str, id: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let reply = s.get(&format!("{base}/purchases/{id}"), bearer).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        last = reply.body["purchase"].clone();
        if last["status"] == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("purchase {id} never reached {want}: {last}");
}

/// Replace a policy layer (`path` relative to /v1/account, e.g. "/policy"); asserts 200.
pub async fn put_policy(s: &TestServer, owner: &Owner, path: &str, policy: Value) -> Value {
    let reply = s
        .send(
            s.client
                .put(format!("{}{ACCOUNT}{path}", s.base))
                .bearer_auth(&owner.token)
                .json(&policy),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["policy"].clone()
}

/// PUT without asserting.
pub async fn put(s: &TestServer, bearer: &str, path: &str, body: Value) -> Reply {
    s.send(
        s.client
            .put(format!("{}{path}", s.base))
            .bearer_auth(bearer)
            .json(&body),
    )
    .await
}

/// Audit events of the account with `action` (newest first).
pub async fn audit(s: &TestServer, owner: &Owner, action: &str) -> Vec<Value> {
    let reply = s
        .get(
            &format!("{ACCOUNT}/audit-events?action={action}&limit=100"),
            &owner.token,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["items"].as_array().unwrap().clone()
}

/// Every item of a list route (follows cursors).
pub async fn list_all(s: &TestServer, bearer: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=100&cursor={c}"),
            None => format!("{path}{sep}limit=100"),
        };
        let reply = s.get(&url, bearer).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        out.extend(reply.body["items"].as_array().unwrap().iter().cloned());
        match reply.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// The `code`s of a policy denial's reasons.
pub fn reason_codes(reasons: &Value) -> Vec<String> {
    reasons
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| r["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The one reason with `code` (panics if missing).
pub fn reason<'a>(reasons: &'a Value, code: &str) -> &'a Value {
    reasons
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("no reason {code} in {reasons}"))
}

/// The ids of list items.
pub fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Send POSTs all at once (each on its own task) and return their replies in the order given.
pub async fn concurrent_posts(
    s: &TestServer,
    requests: Vec<(String, String, Value)>,
) -> Vec<Reply> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let mut handles = Vec::new();
    for (path, bearer, body) in requests {
        let client = s.client.clone();
        let url = format!("{}{path}", s.base);
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            let response = client
                .post(url)
                .bearer_auth(bearer)
                .json(&body)
                .send()
                .await
                .unwrap();
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
        }));
    }
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// How many replies have `status`.
pub fn count_status(replies: &[Reply], status: StatusCode) -> usize {
    replies.iter().filter(|r| r.status == status).count()
}
