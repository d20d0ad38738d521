//! The isolation matrix (issue 9): two accounts with two agents each, every agent owning real objects
//! (a domain with a DNS record, a server, a phone number with inbound traffic, object storage with a
//! bucket credential, block storage with a snapshot, router credits with a router key and usage, an
//! open quote, a purchase awaiting approval), plus account-level objects (tokens, agent keys, policies).
//! Then every Agent API and Account API operation listed in the server's own `/openapi.json`, every MCP
//! tool listed by `tools/list`, every `/openai/v1` route and the dashboard's pages and forms are called
//! with each *other* principal's credentials against the victim's ids: the answer is always 401 or 404
//! and no response body ever contains one of the victim's ids or secrets. An operation of the document
//! (or a tool) that is neither exercised with foreign ids nor listed in [`NO_FOREIGN_IDS`] fails the
//! test, so a new route cannot be forgotten. The number of (credential, operation, victim) pairs tried
//! is printed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod dashboard_support;
mod mcp_support;

use std::collections::{BTreeSet, HashMap};

use common::{Owner, Reply, TestServer, fund, wait_for_purchase};
use reqwest::header::{CONTENT_TYPE, COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Operations whose inputs carry no id of another principal's object (catalog, the caller's own
/// wallet, lists, creations). They are still called by every attacker, and their answers must not
/// contain a victim's id or secret.
const NO_FOREIGN_IDS: &[(&str, &str)] = &[
    ("get", "/v1/agent/catalog/categories"),
    ("get", "/v1/agent/catalog/items"),
    ("get", "/v1/agent/catalog/items/{catalogItemId}/checkout"),
    ("get", "/v1/agent/wallet"),
    ("get", "/v1/agent/wallet/transactions"),
    ("get", "/v1/agent/policies/effective"),
    ("get", "/v1/agent/purchases"),
    ("get", "/v1/agent/services"),
    ("get", "/v1/account"),
    ("get", "/v1/account/agents"),
    ("post", "/v1/account/agents"),
    ("get", "/v1/account/tokens"),
    ("post", "/v1/account/tokens"),
    ("get", "/v1/account/wallet"),
    ("get", "/v1/account/wallet/transactions"),
    ("post", "/v1/account/wallet/fundings"),
    ("get", "/v1/account/policy"),
    ("put", "/v1/account/policy"),
    ("get", "/v1/account/approvals"),
    ("get", "/v1/account/purchases"),
    ("get", "/v1/account/services"),
    ("get", "/v1/account/audit-events"),
];

/// Authenticated by the provider's HMAC signature, not by a principal: outside this matrix (the
/// phone suite checks its signature).
const NOT_A_PRINCIPAL_ROUTE: &[(&str, &str)] = &[("post", "/webhooks/telephony/sandbox")];

/// MCP tools without foreign ids (see [`NO_FOREIGN_IDS`]).
const TOOLS_WITHOUT_FOREIGN_IDS: &[&str] = &[
    "catalog_categories",
    "catalog_search",
    "catalog_checkout_requirements",
    "wallet_get",
    "policy_get_effective",
    "purchase_list",
    "service_list",
];

/// One agent and everything it owns.
#[derive(Debug, Clone, Default)]
struct Agent {
    id: String,
    name: String,
    key: String,
    key_id: String,
    router_key: String,
    /// Path parameter name (with a route hint) -> id.
    ids: HashMap<&'static str, String>,
    /// Secrets issued to this agent (agent key, router key, bucket secret).
    secrets: Vec<String>,
}

impl Agent {
    fn markers(&self) -> Vec<String> {
        let mut all: Vec<String> = self.ids.values().cloned().collect();
        all.push(self.id.clone());
        all.push(self.key_id.clone());
        all.extend(self.secrets.iter().cloned());
        all
    }
}

#[derive(Debug, Clone)]
struct Tenant {
    owner: Owner,
    token_id: String,
    session: (String, String),
    agents: Vec<Agent>,
}

impl Tenant {
    fn markers(&self) -> Vec<String> {
        let mut all: Vec<String> = self.agents.iter().flat_map(Agent::markers).collect();
        all.push(self.owner.account_id.clone());
        all.push(self.owner.token.clone());
        all.push(self.token_id.clone());
        all
    }
}

/// A credential an attacker presents.
#[derive(Debug, Clone)]
enum Cred {
    Bearer(&'static str, String),
    Session(String, String),
}

impl Cred {
    fn label(&self) -> &'static str {
        match self {
            Cred::Bearer(kind, _) => kind,
            Cred::Session(..) => "dashboard session",
        }
    }
}

async fn call(
    s: &TestServer,
    method: &Method,
    path: &str,
    cred: &Cred,
    body: Option<&Value>,
) -> Reply {
    let mut request = s
        .client
        .request(method.clone(), format!("{}{path}", s.base));
    request = match cred {
        Cred::Bearer(_, token) => request.bearer_auth(token),
        Cred::Session(cookie, csrf) => request.header(COOKIE, cookie).header("x-csrf-token", csrf),
    };
    if let Some(body) = body {
        request = request.json(body);
    }
    s.send(request).await
}

async fn buy(s: &TestServer, key: &str, item: &str, configuration: Value) -> (String, String) {
    let reply = s
        .post(
            "/v1/agent/purchases",
            key,
            json!({"catalogItemId": item, "quantity": 1, "configuration": configuration,
                   "idempotencyKey": unique()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{item}: {}", reply.text);
    let purchase_id = reply.body["purchase"]["id"].as_str().unwrap().to_owned();
    let done = wait_for_purchase(s, key, "/v1/agent", &purchase_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    (purchase_id, done["serviceId"].as_str().unwrap().to_owned())
}

fn unique() -> String {
    agent_store_core::ids::new_id(agent_store_core::ids::IdKind::Event)
}

fn id_of(reply: &Reply, pointer: &str) -> String {
    assert!(reply.status.is_success(), "{}", reply.text);
    reply
        .body
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in {}", reply.text))
        .to_owned()
}

/// Create an agent of `owner` and give it one object of every kind.
async fn equip(s: &TestServer, owner: &Owner, tag: &str) -> Agent {
    let (id, key) = s.agent(owner, tag).await;
    let mut agent = Agent {
        key_id: key
            .trim_start_matches("ask_live_")
            .split('.')
            .next()
            .unwrap()
            .to_owned(),
        id,
        name: tag.to_owned(),
        key: key.clone(),
        ..Agent::default()
    };
    agent.secrets.push(key.clone());
    let svc = |path: &str, id: &str| format!("/v1/agent/services/{id}/{path}");

    let (purchase, domain) = buy(
        s,
        &key,
        "cat_domain_com",
        json!({"domainName": format!("isolation-{tag}.com"), "periodYears": 1,
               "registrantEmail": "ops@example.com", "registrantCountry": "US"}),
    )
    .await;
    agent.ids.insert("purchaseId", purchase);
    let record = s
        .post(
            &svc("domain/dns-records", &domain),
            &key,
            json!({"type": "A", "name": "www", "value": "192.0.2.10", "ttl": 300}),
        )
        .await;
    agent
        .ids
        .insert("recordId", id_of(&record, "/dnsRecord/id"));
    agent.ids.insert("domain", domain);

    let (_, server) = buy(
        s,
        &key,
        "cat_vps_micro",
        json!({"hostname": format!("node-{tag}"), "region": "us-east", "image": "ubuntu-24.04",
               "billingTermMonths": 1}),
    )
    .await;
    agent.ids.insert("server", server);

    let (_, phone) = buy(
        s,
        &key,
        "cat_phone_global_001",
        json!({"countryCode": "US", "numberType": "local", "capabilities": ["sms", "voice"],
               "initialBalanceUsd": 10}),
    )
    .await;
    let sms = s
        .post(
            "/v1/account/sandbox/phone/inbound",
            &owner.token,
            json!({"serviceId": phone, "kind": "sms", "from": "+14155550123", "body": format!("code {tag}")}),
        )
        .await;
    assert_eq!(sms.status, StatusCode::CREATED, "{}", sms.text);
    let missed = s
        .post(
            "/v1/account/sandbox/phone/inbound",
            &owner.token,
            json!({"serviceId": phone, "kind": "call", "from": "+14155550124", "answered": false}),
        )
        .await;
    assert_eq!(missed.status, StatusCode::CREATED, "{}", missed.text);
    let messages = s.get(&svc("phone/messages", &phone), &key).await;
    agent
        .ids
        .insert("messageId", id_of(&messages, "/items/0/id"));
    let calls = s.get(&svc("phone/calls", &phone), &key).await;
    agent.ids.insert("callId", id_of(&calls, "/items/0/id"));
    agent.ids.insert("phone", phone);

    let (_, bucket) = buy(
        s,
        &key,
        "cat_storage_object_001",
        json!({"region": "us-east", "storageClass": "object", "capacityGb": 10}),
    )
    .await;
    let credentials = s
        .post(
            &svc("storage/bucket-credentials", &bucket),
            &key,
            json!({"label": "ci", "access": "read_write"}),
        )
        .await;
    agent
        .ids
        .insert("credentialId", id_of(&credentials, "/credentials/id"));
    agent
        .secrets
        .push(id_of(&credentials, "/credentials/secretAccessKey"));
    agent.ids.insert("bucket", bucket);

    let (_, volume) = buy(
        s,
        &key,
        "cat_storage_block_001",
        json!({"region": "us-east", "storageClass": "block", "capacityGb": 10}),
    )
    .await;
    let snapshot = s
        .post(
            &svc("storage/snapshots", &volume),
            &key,
            json!({"label": "before"}),
        )
        .await;
    agent
        .ids
        .insert("snapshotId", id_of(&snapshot, "/snapshot/id"));
    agent.ids.insert("volume", volume);

    let (_, router) = buy(
        s,
        &key,
        "cat_router_credit_001",
        json!({"creditAmountUsd": 5}),
    )
    .await;
    let router_key = s
        .post(
            &svc("router/api-keys", &router),
            &key,
            json!({"label": "production"}),
        )
        .await;
    agent
        .ids
        .insert("routerKeyId", id_of(&router_key, "/routerApiKey/id"));
    agent.router_key = id_of(&router_key, "/routerApiKey/key");
    agent.secrets.push(agent.router_key.clone());
    let chat = s
        .post(
            "/openai/v1/chat/completions",
            &agent.router_key,
            json!({"model": "sandbox/echo", "messages": [{"role": "user", "content": "hello"}]}),
        )
        .await;
    assert_eq!(chat.status, StatusCode::OK, "{}", chat.text);
    agent.ids.insert("router", router);

    let quote = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
                   "configuration": {"creditAmountUsd": 5}}),
        )
        .await;
    agent.ids.insert("quoteId", id_of(&quote, "/quote/id"));
    agent
}

/// Give one agent a purchase awaiting approval (its own policy layer asks a human above 1 USD).
async fn pending_purchase(s: &TestServer, owner: &Owner, agent: &mut Agent) {
    let policy = s
        .send(
            s.client
                .put(format!("{}/v1/account/agents/{}/policy", s.base, agent.id))
                .bearer_auth(&owner.token)
                .json(&json!({"approvalRequiredAboveMinor": 100})),
        )
        .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.text);
    let reply = s
        .post(
            "/v1/agent/purchases",
            &agent.key,
            json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
                   "configuration": {"creditAmountUsd": 5}, "idempotencyKey": unique()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["purchase"]["status"], "pending_approval");
    agent
        .ids
        .insert("pendingPurchaseId", id_of(&reply, "/purchase/id"));
}

async fn tenant(s: &TestServer, tag: &str) -> Tenant {
    let owner = s.owner().await;
    fund(s, &owner, 500_000).await;
    let mut agents = vec![
        equip(s, &owner, &format!("{tag}1")).await,
        equip(s, &owner, &format!("{tag}2")).await,
    ];
    for agent in &mut agents {
        pending_purchase(s, &owner, agent).await;
    }
    let tokens = s.get("/v1/account/tokens", &owner.token).await;
    let token_id = id_of(&tokens, "/items/0/id");
    let browser = dashboard_support::browser();
    let session = dashboard_support::sign_in(s, &browser, &owner).await;
    Tenant {
        owner,
        token_id,
        session,
        agents,
    }
}

/// The victim's id for a path parameter of `template`.
fn path_id(template: &str, param: &str, victim: &Agent, tenant: &Tenant) -> String {
    let ids = &victim.ids;
    let service = |hint: &str| ids[hint].clone();
    match param {
        "serviceId" => {
            let rest = template.split("{serviceId}").nth(1).unwrap_or_default();
            if rest.starts_with("/domain") {
                service("domain")
            } else if rest.starts_with("/server") {
                service("server")
            } else if rest.starts_with("/phone") {
                service("phone")
            } else if rest.starts_with("/storage/bucket") {
                service("bucket")
            } else if rest.starts_with("/storage") {
                service("volume")
            } else if rest.starts_with("/router") {
                service("router")
            } else {
                service("domain")
            }
        }
        "purchaseId"
            if template.ends_with("/cancel")
                || template.ends_with("/approve")
                || template.ends_with("/reject") =>
        {
            ids["pendingPurchaseId"].clone()
        }
        "purchaseId" => ids["purchaseId"].clone(),
        "keyId" if template.contains("/router/") => ids["routerKeyId"].clone(),
        "keyId" => victim.key_id.clone(),
        "agentId" => victim.id.clone(),
        "tokenId" => tenant.token_id.clone(),
        "quoteId" | "recordId" | "messageId" | "snapshotId" => ids[param].clone(),
        other => panic!("no victim id for path parameter {other} of {template}"),
    }
}

/// A valid body for the operation, naming the victim's objects wherever the body takes an id, so the
/// only reason to refuse is ownership.
fn body_for(method: &str, template: &str, victim: &Agent) -> Option<Value> {
    let tail = template
        .trim_start_matches("/v1/agent")
        .trim_start_matches("/v1/account");
    let body = match (method, tail) {
        ("post", "/quotes") => json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
            "configuration": {"creditAmountUsd": 5, "topUpServiceId": victim.ids["router"]}}),
        ("post", "/purchases") => {
            json!({"quoteId": victim.ids["quoteId"], "idempotencyKey": unique()})
        }
        ("post", "/sandbox/phone/inbound") => json!({"serviceId": victim.ids["phone"],
            "kind": "sms", "from": "+14155550199", "body": "hi"}),
        ("put", t) if t.ends_with("/domain/nameservers") => {
            json!({"nameservers": ["ns1.example.net", "ns2.example.net"]})
        }
        ("post", t) if t.ends_with("/domain/dns-records") => {
            json!({"type": "A", "name": "api", "value": "192.0.2.20", "ttl": 300})
        }
        ("post", t) if t.ends_with("/server/reinstall") => json!({"image": "debian-12"}),
        ("post", t) if t.ends_with("/server/power") => json!({"state": "off"}),
        ("post", t) if t.ends_with("/phone/topup") => {
            json!({"amountUsd": 1, "idempotencyKey": unique()})
        }
        ("post", t) if t.ends_with("/bucket-credentials") => {
            json!({"label": "x", "access": "read"})
        }
        ("post", t) if t.ends_with("/volume/attach") => {
            json!({"serverServiceId": victim.ids["server"]})
        }
        ("post", t) if t.ends_with("/volume/expand") => {
            json!({"capacityGb": 20, "idempotencyKey": unique()})
        }
        ("post", t) if t.ends_with("/reject") => json!({"reason": "no"}),
        ("post", t) if t.ends_with("/router/api-keys") || t.ends_with("/keys") => {
            json!({"label": "x"})
        }
        ("post", t) if t.ends_with("/snapshots") => json!({"label": "x"}),
        ("patch", _) => json!({"name": "renamed"}),
        ("put", _) | ("post", _) => json!({}),
        _ => return None,
    };
    Some(body)
}

/// A body for the operations without foreign ids.
fn own_body(method: &str, template: &str) -> Option<Value> {
    match (method, template) {
        ("post", "/v1/account/agents") => Some(json!({"name": "attacker-made"})),
        ("post", "/v1/account/tokens") => Some(json!({"label": "attacker-made"})),
        ("post", "/v1/account/wallet/fundings") => {
            Some(json!({"amountMinor": 100, "idempotencyKey": unique()}))
        }
        ("put", "/v1/account/policy") => Some(json!({})),
        _ => None,
    }
}

fn fill(template: &str, victim: &Agent, tenant: &Tenant) -> String {
    let mut path = template.to_owned();
    while let Some(start) = path.find('{') {
        let end = path[start..].find('}').unwrap() + start;
        let param = path[start + 1..end].to_owned();
        let id = if param == "catalogItemId" {
            "cat_vps_micro".to_owned()
        } else {
            path_id(template, &param, victim, tenant)
        };
        path.replace_range(start..=end, &id);
    }
    path
}

/// 401 or 404 with nothing of the victim; or, for a foreign id inside the body, a 400 naming the
/// field that is exactly what a made-up id gets (no existence oracle).
#[allow(clippy::too_many_arguments)]
async fn refused(
    s: &TestServer,
    method: &Method,
    path: &str,
    cred: &Cred,
    body: Option<&Value>,
    reply: &Reply,
    markers: &[String],
    what: &str,
) {
    if reply.status == StatusCode::BAD_REQUEST {
        let (fake_path, fake_body) = unknown_ids(path, body, markers);
        let fake = call(s, method, &fake_path, cred, fake_body.as_ref()).await;
        assert_eq!(fake.status, reply.status, "{what}: {}", reply.text);
        assert_eq!(
            fake.body["error"]["message"], reply.body["error"]["message"],
            "{what}"
        );
        assert_eq!(reply.body["error"]["code"], "validation_failed", "{what}");
        assert_clean(reply, markers, what);
    } else {
        assert_refused(reply, markers, what);
    }
}

/// `path` and `body` with every victim id replaced by a made-up id of the same kind.
fn unknown_ids(path: &str, body: Option<&Value>, markers: &[String]) -> (String, Option<Value>) {
    let mut path = path.to_owned();
    let mut text = body.map(Value::to_string).unwrap_or_default();
    for marker in markers {
        if let Some((prefix, _)) = marker.split_once('_')
            && (path.contains(marker.as_str()) || text.contains(marker.as_str()))
        {
            let made_up = format!("{prefix}_{}", unique().trim_start_matches("evt_"));
            path = path.replace(marker.as_str(), &made_up);
            text = text.replace(marker.as_str(), &made_up);
        }
    }
    (path, body.map(|_| serde_json::from_str(&text).unwrap()))
}

fn assert_clean(reply: &Reply, markers: &[String], what: &str) {
    for marker in markers {
        assert!(
            !reply.text.contains(marker.as_str()),
            "{what} leaked the victim's {marker}: {}",
            reply.text
        );
    }
}

fn assert_refused(reply: &Reply, markers: &[String], what: &str) {
    assert!(
        matches!(
            reply.status,
            StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND
        ),
        "{what}: expected 401 or 404, got {}: {}",
        reply.status,
        reply.text
    );
    assert_clean(reply, markers, what);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_principal_reaches_another_principals_objects_through_any_route_tool_or_page() {
    let s = TestServer::start().await;
    let tenants = [tenant(&s, "a").await, tenant(&s, "b").await];
    let mut pairs = 0usize;

    let openapi = s.get("/openapi.json", "").await;
    let mut operations = Vec::new();
    for (path, item) in openapi.body["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                operations.push((method.to_owned(), path.clone()));
            }
        }
    }
    let listed: BTreeSet<(String, String)> = NO_FOREIGN_IDS
        .iter()
        .chain(NOT_A_PRINCIPAL_ROUTE)
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    for entry in &listed {
        assert!(
            operations.contains(entry),
            "{entry:?} is listed but not in /openapi.json"
        );
    }
    let mut exercised = BTreeSet::new();

    // Every credential, with who holds it: (tenant index, agent index or None for the owner).
    let mut creds: Vec<(usize, Option<usize>, Cred)> = Vec::new();
    for (t, tenant) in tenants.iter().enumerate() {
        creds.push((
            t,
            None,
            Cred::Bearer("account token", tenant.owner.token.clone()),
        ));
        creds.push((
            t,
            None,
            Cred::Session(tenant.session.0.clone(), tenant.session.1.clone()),
        ));
        for (a, agent) in tenant.agents.iter().enumerate() {
            creds.push((t, Some(a), Cred::Bearer("agent key", agent.key.clone())));
            creds.push((
                t,
                Some(a),
                Cred::Bearer("router key", agent.router_key.clone()),
            ));
        }
    }

    for (method, template) in &operations {
        if listed.contains(&(method.clone(), template.clone())) {
            continue;
        }
        let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let agent_route = template.starts_with("/v1/agent/");
        assert!(
            agent_route || template.starts_with("/v1/account/"),
            "{method} {template}: neither an Agent nor an Account API route; classify it"
        );
        for (vt, tenant) in tenants.iter().enumerate() {
            for (va, victim) in tenant.agents.iter().enumerate() {
                let path = fill(template, victim, tenant);
                let markers = if agent_route {
                    victim.markers()
                } else {
                    tenant.markers()
                };
                for (ct, ca, cred) in &creds {
                    // The victim itself (its own key on agent routes; its own account on account
                    // routes) is not an attacker.
                    let own = if agent_route {
                        *ct == vt && *ca == Some(va) && cred.label() == "agent key"
                    } else {
                        *ct == vt && ca.is_none()
                    };
                    if own {
                        continue;
                    }
                    let body = body_for(method, template, victim);
                    let reply = call(&s, &http_method, &path, cred, body.as_ref()).await;
                    let what = format!(
                        "{method} {path} as the {} of tenant {ct} agent {ca:?}",
                        cred.label()
                    );
                    refused(
                        &s,
                        &http_method,
                        &path,
                        cred,
                        body.as_ref(),
                        &reply,
                        &markers,
                        &what,
                    )
                    .await;
                    pairs += 1;
                }
            }
        }
        exercised.insert((method.clone(), template.clone()));
    }

    // Operations without foreign ids: every principal calls them; nothing of another shows.
    for (method, template) in NO_FOREIGN_IDS {
        let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let path = template.replace("{catalogItemId}", "cat_vps_micro");
        for (ct, ca, cred) in &creds {
            let reply = call(
                &s,
                &http_method,
                &path,
                cred,
                own_body(method, template).as_ref(),
            )
            .await;
            for (vt, tenant) in tenants.iter().enumerate() {
                for (va, victim) in tenant.agents.iter().enumerate() {
                    let same_agent = *ct == vt && *ca == Some(va);
                    let same_account = *ct == vt;
                    // Agent routes: an agent sees only its own objects; account routes: the account
                    // sees its own agents' objects.
                    let other = if template.starts_with("/v1/agent/") {
                        !same_agent
                    } else {
                        !same_account
                    };
                    if other {
                        let what = format!(
                            "{method} {path} as the {} of tenant {ct} agent {ca:?}",
                            cred.label()
                        );
                        assert_clean(&reply, &victim.markers(), &what);
                        pairs += 1;
                    }
                }
                if *ct != vt {
                    assert_clean(&reply, &tenant.markers(), &format!("{method} {path}"));
                }
            }
        }
        exercised.insert(((*method).to_owned(), (*template).to_owned()));
    }

    // A foreign id inside the caller's own request: attach my volume to your server, top up your
    // router service, filter my account's purchases by your agent.
    for (vt, tenant) in tenants.iter().enumerate() {
        for (va, victim) in tenant.agents.iter().enumerate() {
            for (at, attacker_tenant) in tenants.iter().enumerate() {
                for (aa, attacker) in attacker_tenant.agents.iter().enumerate() {
                    if (at, aa) == (vt, va) {
                        continue;
                    }
                    let cred = Cred::Bearer("agent key", attacker.key.clone());
                    let attempts = [
                        (
                            format!(
                                "/v1/agent/services/{}/storage/volume/attach",
                                attacker.ids["volume"]
                            ),
                            json!({"serverServiceId": victim.ids["server"]}),
                        ),
                        (
                            "/v1/agent/purchases".to_owned(),
                            json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
                                   "configuration": {"creditAmountUsd": 5, "topUpServiceId": victim.ids["router"]},
                                   "idempotencyKey": unique()}),
                        ),
                    ];
                    for (path, body) in attempts {
                        let reply = call(&s, &Method::POST, &path, &cred, Some(&body)).await;
                        let what = format!("POST {path} naming a foreign object in its body");
                        refused(
                            &s,
                            &Method::POST,
                            &path,
                            &cred,
                            Some(&body),
                            &reply,
                            &victim.markers(),
                            &what,
                        )
                        .await;
                    }
                    pairs += 2;
                }
            }
            let other = &tenants[1 - vt];
            let filtered = s
                .get(
                    &format!("/v1/account/purchases?agentId={}", victim.id),
                    &other.owner.token,
                )
                .await;
            assert_clean(
                &filtered,
                &tenant.markers(),
                "purchases filtered by a foreign agent",
            );
            pairs += 1;
        }
    }

    pairs += router_routes(&s, &tenants).await;
    pairs += mcp_tools(&s, &tenants).await;
    pairs += dashboard(&s, &tenants).await;

    let missing: Vec<_> = operations
        .iter()
        .filter(|op| !exercised.contains(*op) && !listed.contains(*op))
        .collect();
    assert!(
        missing.is_empty(),
        "operations never exercised: {missing:?}"
    );
    println!(
        "isolation matrix: {} operations, {pairs} (credential, operation, victim) pairs tried, none leaked",
        operations.len()
    );
    s.stop().await;
}

/// `/openai/v1`: only router keys open it, and a router key only spends its own service.
async fn router_routes(s: &TestServer, tenants: &[Tenant; 2]) -> usize {
    let mut pairs = 0;
    let chat = json!({"model": "sandbox/echo", "messages": [{"role": "user", "content": "hi"}]});
    let usage = |agent: &Agent| {
        let path = format!("/v1/agent/services/{}/router/usage", agent.ids["router"]);
        let key = agent.key.clone();
        async move { s.get(&path, &key).await.body }
    };
    let mut before = Vec::new();
    for tenant in tenants {
        for agent in &tenant.agents {
            before.push(usage(agent).await);
        }
    }
    for (t, tenant) in tenants.iter().enumerate() {
        let mut wrong = vec![
            tenant.owner.token.clone(),
            format!(
                "ark_live_{}.{}",
                tenant.agents[0].ids["routerKeyId"],
                "A".repeat(43)
            ),
        ];
        wrong.extend(tenant.agents.iter().map(|a| a.key.clone()));
        for bearer in &wrong {
            let models = s.get("/openai/v1/models", bearer).await;
            let completion = s
                .post("/openai/v1/chat/completions", bearer, chat.clone())
                .await;
            for reply in [models, completion] {
                assert_eq!(
                    reply.status,
                    StatusCode::UNAUTHORIZED,
                    "tenant {t}: {}",
                    reply.text
                );
                assert_clean(&reply, &tenants[0].markers(), "router");
                assert_clean(&reply, &tenants[1].markers(), "router");
                pairs += 1;
            }
        }
        let cookie = s
            .send(
                s.client
                    .get(format!("{}/openai/v1/models", s.base))
                    .header(COOKIE, &tenant.session.0),
            )
            .await;
        assert_eq!(cookie.status, StatusCode::UNAUTHORIZED);
        pairs += 1;
    }
    // Each agent's own router key spends only its own service; the others' usage is unchanged.
    let all: Vec<&Agent> = tenants.iter().flat_map(|t| t.agents.iter()).collect();
    for (i, agent) in all.iter().enumerate() {
        let reply = s
            .post(
                "/openai/v1/chat/completions",
                &agent.router_key,
                chat.clone(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        for (j, other) in all.iter().enumerate() {
            if i != j {
                assert_clean(&reply, &other.markers(), "chat completion");
                pairs += 1;
            }
        }
    }
    for (i, agent) in all.iter().enumerate() {
        let after = usage(agent).await;
        assert_eq!(
            after["usage"]["totals"]["requests"].as_i64().unwrap_or(-1),
            before[i]["usage"]["totals"]["requests"]
                .as_i64()
                .unwrap_or(-1)
                + 1,
            "each router service counts exactly its own key's request: {after}"
        );
    }
    pairs
}

/// Agent-scoped MCP tool arguments naming the victim's objects.
fn tool_args(tool: &str, victim: &Agent) -> Value {
    let ids = &victim.ids;
    match tool {
        "quote_create" => json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
            "configuration": {"creditAmountUsd": 5, "topUpServiceId": ids["router"]}}),
        "purchase_create" => json!({"quoteId": ids["quoteId"], "idempotencyKey": unique()}),
        "purchase_get_status" => json!({"purchaseId": ids["purchaseId"]}),
        "purchase_cancel" => json!({"purchaseId": ids["pendingPurchaseId"]}),
        "service_get" => json!({"serviceId": ids["domain"]}),
        "domain_nameservers_set" => json!({"serviceId": ids["domain"],
            "nameservers": ["ns1.example.net", "ns2.example.net"]}),
        "domain_dns_record_list" => json!({"serviceId": ids["domain"]}),
        "domain_dns_record_upsert" => json!({"serviceId": ids["domain"], "type": "A",
            "name": "api", "value": "192.0.2.20", "ttl": 300}),
        "domain_dns_record_delete" => {
            json!({"serviceId": ids["domain"], "recordId": ids["recordId"]})
        }
        "server_restart" => json!({"serviceId": ids["server"]}),
        "server_reinstall" => json!({"serviceId": ids["server"], "image": "debian-12"}),
        "server_power" => json!({"serviceId": ids["server"], "state": "off"}),
        "phone_balance_topup" => json!({"serviceId": ids["phone"], "amountUsd": 1,
            "idempotencyKey": unique()}),
        "phone_message_list" | "phone_missed_call_list" | "phone_call_log_get" => {
            json!({"serviceId": ids["phone"]})
        }
        "phone_message_get" => json!({"serviceId": ids["phone"], "messageId": ids["messageId"]}),
        "storage_bucket_credentials_create" => json!({"serviceId": ids["bucket"], "label": "x",
            "access": "read"}),
        "storage_volume_attach" => {
            json!({"serviceId": ids["volume"], "serverServiceId": ids["server"]})
        }
        "storage_volume_expand" => json!({"serviceId": ids["volume"], "capacityGb": 20,
            "idempotencyKey": unique()}),
        "storage_snapshot_create" => json!({"serviceId": ids["volume"], "label": "x"}),
        "storage_snapshot_list" | "storage_volume_detach" => json!({"serviceId": ids["volume"]}),
        "storage_snapshot_restore" => {
            json!({"serviceId": ids["volume"], "snapshotId": ids["snapshotId"]})
        }
        "router_api_key_create" => json!({"serviceId": ids["router"], "label": "x"}),
        "router_api_key_list" | "router_usage_get" => json!({"serviceId": ids["router"]}),
        "router_api_key_revoke" => json!({"serviceId": ids["router"], "keyId": ids["routerKeyId"]}),
        other => panic!("MCP tool {other} is neither exercised with foreign ids nor listed"),
    }
}

/// Every MCP tool, as every other agent, with the victim's ids: a `not_found` tool error carrying
/// nothing of the victim. Non-agent credentials are refused with HTTP 401 before any tool runs.
async fn mcp_tools(s: &TestServer, tenants: &[Tenant; 2]) -> usize {
    let mut pairs = 0;
    let all: Vec<&Agent> = tenants.iter().flat_map(|t| t.agents.iter()).collect();
    let first = mcp_support::connect(s, &all[0].key, mcp_support::Transport::Http).await;
    let tools: Vec<String> = mcp_support::tools(&first)
        .await
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    first.cancel().await.unwrap();
    for (a, attacker) in all.iter().enumerate() {
        let client = mcp_support::connect(s, &attacker.key, mcp_support::Transport::Http).await;
        for tool in &tools {
            for (v, victim) in all.iter().enumerate() {
                if a == v {
                    continue;
                }
                let result = if TOOLS_WITHOUT_FOREIGN_IDS.contains(&tool.as_str()) {
                    let args = if tool == "catalog_checkout_requirements" {
                        json!({"catalogItemId": "cat_vps_micro"})
                    } else {
                        json!({})
                    };
                    let result = mcp_support::call(&client, tool, args).await;
                    assert_eq!(result.is_error, Some(false), "{tool}: {result:?}");
                    result
                } else {
                    let args = tool_args(tool, victim);
                    let result = mcp_support::call(&client, tool, args.clone()).await;
                    assert_eq!(
                        result.is_error,
                        Some(true),
                        "{tool} on a foreign object: {result:?}"
                    );
                    let error = &result.structured_content.as_ref().unwrap()["error"];
                    if error["code"] == "validation_failed" {
                        let (_, made_up) = unknown_ids("", Some(&args), &victim.markers());
                        let fake = mcp_support::call(&client, tool, made_up.unwrap()).await;
                        let fake_error = &fake.structured_content.as_ref().unwrap()["error"];
                        assert_eq!(fake_error["message"], error["message"], "{tool}");
                    } else {
                        assert_eq!(error["code"], "not_found", "{tool}: {error}");
                    }
                    result
                };
                let text = serde_json::to_string(&result).unwrap();
                for marker in victim.markers() {
                    assert!(!text.contains(&marker), "{tool} leaked {marker}: {text}");
                }
                pairs += 1;
            }
        }
        client.cancel().await.unwrap();
    }
    // Non-agent credentials at /mcp: 401 before any tool.
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "service_get", "arguments": {"serviceId": all[0].ids["domain"]}}});
    for tenant in tenants {
        let mut bearers = vec![tenant.owner.token.clone()];
        bearers.extend(tenant.agents.iter().map(|a| a.router_key.clone()));
        for bearer in bearers {
            let reply = s
                .send(
                    s.client
                        .post(format!("{}/mcp", s.base))
                        .bearer_auth(bearer)
                        .header("accept", "application/json, text/event-stream")
                        .json(&list),
                )
                .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
            assert_clean(&reply, &tenants[0].agents[0].markers(), "mcp");
            pairs += 1;
        }
    }
    pairs
}

/// The dashboard of one account, pointed at the other account's objects: 404 pages, refused forms,
/// nothing changed, and its own lists show nothing of the other.
async fn dashboard(s: &TestServer, tenants: &[Tenant; 2]) -> usize {
    let mut pairs = 0;
    let browser = dashboard_support::browser();
    for (t, attacker) in tenants.iter().enumerate() {
        let victim_tenant = &tenants[1 - t];
        let markers = victim_tenant.markers();
        let (cookie, csrf) = &attacker.session;
        for page in [
            "",
            "/wallet",
            "/agents",
            "/policies",
            "/approvals",
            "/purchases",
            "/services",
            "/usage",
            "/audit",
            "/checkout",
        ] {
            let reply = s
                .send(
                    browser
                        .get(format!("{}/dashboard{page}", s.base))
                        .header(COOKIE, cookie),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "/dashboard{page}");
            assert_clean(&reply, &markers, &format!("/dashboard{page}"));
            pairs += 1;
        }
        for victim in &victim_tenant.agents {
            let gets = [
                format!("/dashboard/agents/{}", victim.id),
                format!("/dashboard/agents/{}/policy", victim.id),
                format!("/dashboard/purchases/{}", victim.ids["purchaseId"]),
                format!("/dashboard/purchases/{}", victim.ids["pendingPurchaseId"]),
                format!("/dashboard/services/{}", victim.ids["domain"]),
                format!("/dashboard/services/{}", victim.ids["router"]),
            ];
            for page in gets {
                let reply = s
                    .send(
                        browser
                            .get(format!("{}{page}", s.base))
                            .header(COOKIE, cookie),
                    )
                    .await;
                assert_eq!(
                    reply.status,
                    StatusCode::NOT_FOUND,
                    "{page}: {}",
                    reply.text
                );
                assert_clean(&reply, &markers, &page);
                pairs += 1;
            }
            let posts = [
                (
                    format!(
                        "/dashboard/purchases/{}/approve",
                        victim.ids["pendingPurchaseId"]
                    ),
                    vec![],
                ),
                (
                    format!(
                        "/dashboard/purchases/{}/reject",
                        victim.ids["pendingPurchaseId"]
                    ),
                    vec![("reason", "no")],
                ),
                (
                    format!("/dashboard/agents/{}/rename", victim.id),
                    vec![("name", "renamed")],
                ),
                (
                    format!("/dashboard/agents/{}/status", victim.id),
                    vec![("status", "suspended")],
                ),
                (
                    format!("/dashboard/agents/{}/keys", victim.id),
                    vec![("label", "x")],
                ),
                (
                    format!(
                        "/dashboard/agents/{}/keys/{}/revoke",
                        victim.id, victim.key_id
                    ),
                    vec![],
                ),
                (
                    format!("/dashboard/agents/{}/policy", victim.id),
                    vec![("dailySpendLimitMinor", "1")],
                ),
            ];
            for (page, fields) in posts {
                let mut pairs_of: Vec<(&str, &str)> = fields;
                pairs_of.push(("csrf", csrf.as_str()));
                let reply = s
                    .send(
                        browser
                            .post(format!("{}{page}", s.base))
                            .header(COOKIE, cookie)
                            .header(CONTENT_TYPE, dashboard_support::FORM)
                            .body(dashboard_support::form(&pairs_of)),
                    )
                    .await;
                assert_eq!(
                    reply.status,
                    StatusCode::NOT_FOUND,
                    "{page}: {}",
                    reply.text
                );
                assert_clean(&reply, &markers, &page);
                pairs += 1;
            }
            // Nothing changed: the victim's key still works, its agent is active, its purchase pending.
            let purchase = s
                .get(
                    &format!("/v1/agent/purchases/{}", victim.ids["pendingPurchaseId"]),
                    &victim.key,
                )
                .await;
            assert_eq!(purchase.body["purchase"]["status"], "pending_approval");
            let agent = s
                .get(
                    &format!("/v1/account/agents/{}", victim.id),
                    &victim_tenant.owner.token,
                )
                .await;
            assert_eq!(agent.body["agent"]["status"], "active");
            assert_eq!(agent.body["agent"]["name"], victim.name.as_str());
        }
    }
    pairs
}
