//! Domain management (SPEC sections 9 and 14): the domain reference flow over HTTP and over MCP
//! (search, quote 1499 for launchpad.com, purchase, name servers, DNS upsert, delete), upsert
//! semantics, CNAME exclusivity, and every refusal: wrong service type, another agent's service,
//! a capability outside `allowedActions`, an inactive service, invalid values, registrar failures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod mcp_support;

use common::{
    Owner, Reply, TestServer, assert_books_balance, assert_error, error_fields, fund,
    wait_for_purchase,
};
use mcp_support::{Transport, connect, ok};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn put(s: &TestServer, bearer: &str, path: &str, body: Value) -> Reply {
    s.send(
        s.client
            .put(format!("{}{path}", s.base))
            .bearer_auth(bearer)
            .json(&body),
    )
    .await
}

fn domain_config(name: &str) -> Value {
    json!({"domainName": name, "periodYears": 1, "autoRenew": true, "privacyProtection": true,
           "registrantEmail": "ops@launchpad.com", "registrantCountry": "US"})
}

/// Buy a domain over REST and return its service id once provisioning finished (active or failed).
async fn buy_domain(s: &TestServer, key: &str, name: &str) -> String {
    let purchase = s
        .post(
            "/v1/agent/purchases",
            key,
            json!({"catalogItemId": "cat_domain_com", "quantity": 1, "configuration": domain_config(name),
                   "idempotencyKey": format!("buy-{name}")}),
        )
        .await;
    assert_eq!(purchase.status, StatusCode::CREATED, "{}", purchase.text);
    let done = wait_for_purchase(
        s,
        key,
        "/v1/agent",
        purchase.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    done["serviceIds"][0]
        .as_str()
        .or_else(|| done["serviceId"].as_str())
        .unwrap()
        .to_owned()
}

async fn setup() -> (TestServer, Owner, String, String) {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 20_000).await;
    let (agent_id, key) = s.agent(&owner, "registrar-bot").await;
    (s, owner, agent_id, key)
}

fn records(base: &str, service_id: &str) -> String {
    format!("{base}/services/{service_id}/domain/dns-records")
}

#[tokio::test]
async fn the_domain_reference_flow_works_over_http() {
    let (s, owner, _, key) = setup().await;
    let found = s
        .get(
            "/v1/agent/catalog/items?category=domains&q=com&limit=3",
            &key,
        )
        .await;
    assert_eq!(
        found.body["items"][0]["id"], "cat_domain_com",
        "{}",
        found.text
    );
    let quote = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_domain_com", "quantity": 1, "configuration": domain_config("launchpad.com")}),
        )
        .await;
    assert_eq!(
        quote.body["quote"]["totalPriceMinor"], 1499,
        "{}",
        quote.text
    );
    let purchase = s
        .post(
            "/v1/agent/purchases",
            &key,
            json!({"quoteId": quote.body["quote"]["id"], "idempotencyKey": "deploy-domain-1"}),
        )
        .await;
    assert_eq!(purchase.status, StatusCode::CREATED, "{}", purchase.text);
    let done = wait_for_purchase(
        &s,
        &key,
        "/v1/agent",
        purchase.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    let service_id = done["serviceIds"][0].as_str().unwrap().to_owned();

    let ns = put(
        &s,
        &key,
        &format!("/v1/agent/services/{service_id}/domain/nameservers"),
        json!({"nameservers": ["NS1.Example.NET.", "ns2.example.net"]}),
    )
    .await;
    assert_eq!(ns.status, StatusCode::OK, "{}", ns.text);
    assert_eq!(
        ns.body["service"]["details"]["nameservers"],
        json!(["ns1.example.net", "ns2.example.net"])
    );

    let created = s
        .post(
            &records("/v1/agent", &service_id),
            &key,
            json!({"type": "A", "name": "@", "value": "203.0.113.10", "ttl": 300}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let record = &created.body["dnsRecord"];
    let record_id = record["id"].as_str().unwrap().to_owned();
    assert!(record_id.starts_with("dns_"));
    assert_eq!(
        (
            record["type"].clone(),
            record["fqdn"].clone(),
            record["ttl"].clone()
        ),
        (json!("A"), json!("launchpad.com"), json!(300))
    );
    // The same type and name again replaces the record (same id): retrying is safe.
    let replaced = s
        .post(
            &records("/v1/agent", &service_id),
            &key,
            json!({"type": "A", "name": "@", "value": "203.0.113.11"}),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
    assert_eq!(replaced.body["dnsRecord"]["id"], record_id.as_str());
    assert_eq!(replaced.body["dnsRecord"]["ttl"], 3600);
    let listed = s.get(&records("/v1/agent", &service_id), &key).await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        listed.text
    );
    assert_eq!(listed.body["items"][0]["value"], "203.0.113.11");

    let deleted = s
        .delete(
            &format!("{}/{record_id}", records("/v1/agent", &service_id)),
            &key,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(deleted.body["dnsRecord"]["id"], record_id.as_str());
    let again = s
        .delete(
            &format!("{}/{record_id}", records("/v1/agent", &service_id)),
            &key,
        )
        .await;
    assert_error(&again, StatusCode::NOT_FOUND, "not_found");
    let listed = s.get(&records("/v1/agent", &service_id), &key).await;
    assert_eq!(listed.body["items"], json!([]));

    // The account sees and manages the same records.
    let by_owner = s
        .post(
            &records("/v1/account", &service_id),
            &owner.token,
            json!({"type": "TXT", "name": "_dmarc", "value": "v=DMARC1; p=none"}),
        )
        .await;
    assert_eq!(by_owner.status, StatusCode::CREATED, "{}", by_owner.text);
    let events = s.get("/v1/account/audit-events", &owner.token).await;
    let actions: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "service.domain:nameservers:set",
        "service.domain:dns-records:write",
    ] {
        assert!(actions.contains(&action), "{actions:?}");
    }
    assert_books_balance(s.app()).await;
    s.stop().await;
}

async fn mcp_flow(transport: Transport) {
    let (s, _, _, key) = setup().await;
    let client = connect(&s, &key, transport).await;
    let found = ok(
        &client,
        "catalog_search",
        json!({"category": "domains", "q": "com", "limit": 3}),
    )
    .await;
    assert_eq!(found["items"][0]["id"], "cat_domain_com");
    ok(
        &client,
        "catalog_checkout_requirements",
        json!({"catalogItemId": "cat_domain_com"}),
    )
    .await;
    let quote = ok(
        &client,
        "quote_create",
        json!({"catalogItemId": "cat_domain_com", "quantity": 1, "configuration": domain_config("launchpad.com")}),
    )
    .await;
    assert_eq!(quote["quote"]["totalPriceMinor"], 1499);
    let purchase = ok(
        &client,
        "purchase_create",
        json!({"quoteId": quote["quote"]["id"], "idempotencyKey": "mcp-domain-1"}),
    )
    .await;
    let done =
        mcp_support::wait_for_purchase(&client, purchase["purchase"]["id"].as_str().unwrap()).await;
    let service_id = done["serviceIds"][0].as_str().unwrap().to_owned();
    let service = ok(&client, "service_get", json!({"serviceId": service_id})).await;
    assert_eq!(service["service"]["details"]["domainName"], "launchpad.com");

    let ns = ok(
        &client,
        "domain_nameservers_set",
        json!({"serviceId": service_id, "nameservers": ["ns1.example.net", "ns2.example.net", "ns3.example.net"]}),
    )
    .await;
    assert_eq!(
        ns["service"]["details"]["nameservers"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let mx = ok(
        &client,
        "domain_dns_record_upsert",
        json!({"serviceId": service_id, "type": "MX", "name": "@", "value": "mail.example.com", "priority": 10}),
    )
    .await;
    let mx_id = mx["dnsRecord"]["id"].as_str().unwrap().to_owned();
    let retried = ok(
        &client,
        "domain_dns_record_upsert",
        json!({"serviceId": service_id, "type": "MX", "name": "@", "value": "mail.example.com", "priority": 10}),
    )
    .await;
    assert_eq!(retried["dnsRecord"]["id"], mx_id.as_str());
    ok(
        &client,
        "domain_dns_record_upsert",
        json!({"serviceId": service_id, "type": "CNAME", "name": "www", "value": "launchpad.pages.example.net"}),
    )
    .await;
    let listed = ok(
        &client,
        "domain_dns_record_list",
        json!({"serviceId": service_id}),
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let bad = mcp_support::error(
        &client,
        "domain_dns_record_upsert",
        json!({"serviceId": service_id, "type": "A", "name": "www", "value": "203.0.113.1"}),
    )
    .await;
    assert_eq!(bad["code"], "invalid_state");
    let deleted = ok(
        &client,
        "domain_dns_record_delete",
        json!({"serviceId": service_id, "recordId": mx_id}),
    )
    .await;
    assert_eq!(deleted["dnsRecord"]["type"], "MX");
    let listed = ok(
        &client,
        "domain_dns_record_list",
        json!({"serviceId": service_id}),
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    client.cancel().await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn the_domain_reference_flow_works_over_hosted_mcp() {
    mcp_flow(Transport::Http).await;
}

#[tokio::test]
async fn the_domain_reference_flow_works_over_stdio_mcp() {
    mcp_flow(Transport::Stdio).await;
}

#[tokio::test]
async fn multi_valued_types_keep_one_record_per_value_and_cnames_stand_alone() {
    let (s, _, _, key) = setup().await;
    let service_id = buy_domain(&s, &key, "launchpad.com").await;
    let path = records("/v1/agent", &service_id);
    for value in ["v=spf1 -all", "google-site-verification=abc"] {
        let r = s
            .post(
                &path,
                &key,
                json!({"type": "TXT", "name": "@", "value": value}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let same = s
        .post(
            &path,
            &key,
            json!({"type": "TXT", "name": "@", "value": "v=spf1 -all", "ttl": 600}),
        )
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);
    let a = s
        .post(
            &path,
            &key,
            json!({"type": "A", "name": "api", "value": "203.0.113.5"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let cname = s
        .post(
            &path,
            &key,
            json!({"type": "CNAME", "name": "API", "value": "elsewhere.example.net"}),
        )
        .await;
    assert!(
        assert_error(&cname, StatusCode::CONFLICT, "invalid_state")["message"]
            .as_str()
            .unwrap()
            .contains("CNAME")
    );
    let apex = s
        .post(
            &path,
            &key,
            json!({"type": "CNAME", "name": "@", "value": "elsewhere.example.net"}),
        )
        .await;
    assert_error(&apex, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(error_fields(&apex), ["name"]);
    let www = s
        .post(
            &path,
            &key,
            json!({"type": "CNAME", "name": "www", "value": "a.example.net"}),
        )
        .await;
    assert_eq!(www.status, StatusCode::CREATED);
    let moved = s
        .post(
            &path,
            &key,
            json!({"type": "CNAME", "name": "www", "value": "b.example.net"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK);
    assert_eq!(moved.body["dnsRecord"]["id"], www.body["dnsRecord"]["id"]);
    let txt_at_www = s
        .post(
            &path,
            &key,
            json!({"type": "TXT", "name": "www", "value": "hello"}),
        )
        .await;
    assert_error(&txt_at_www, StatusCode::CONFLICT, "invalid_state");
    let listed = s.get(&format!("{path}?limit=2"), &key).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    let next = listed.body["nextCursor"].as_str().unwrap();
    let rest = s.get(&format!("{path}?limit=2&cursor={next}"), &key).await;
    assert_eq!(
        rest.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        rest.text
    );
    s.stop().await;
}

#[tokio::test]
async fn invalid_values_are_refused_with_each_field_named_and_nothing_written() {
    let (s, _, _, key) = setup().await;
    let service_id = buy_domain(&s, &key, "launchpad.com").await;
    let path = records("/v1/agent", &service_id);
    let ns_path = format!("/v1/agent/services/{service_id}/domain/nameservers");
    let cases = [
        (
            json!({"type": "A", "name": "www", "value": "999.1.1.1"}),
            vec!["value"],
        ),
        (
            json!({"type": "AAAA", "name": "www", "value": "203.0.113.1"}),
            vec!["value"],
        ),
        (
            json!({"type": "MX", "name": "@", "value": "mail.example.com"}),
            vec!["priority"],
        ),
        (
            json!({"type": "A", "name": "www", "value": "203.0.113.1", "ttl": 30}),
            vec!["ttl"],
        ),
        (
            json!({"type": "SPF", "name": "-x", "value": "v"}),
            vec!["type", "name"],
        ),
        (
            json!({"type": "SRV", "name": "_sip._tcp", "value": "5 99999 sip.example.com", "priority": 1}),
            vec!["value"],
        ),
        (
            json!({"type": "CAA", "name": "@", "value": "0 nonsense \"x\""}),
            vec!["value"],
        ),
        (
            json!({"type": "NS", "name": "@", "value": "ns1.example.net"}),
            vec!["name"],
        ),
        (
            json!({"type": "A", "name": "www", "value": "203.0.113.1", "priority": 5}),
            vec!["priority"],
        ),
    ];
    for (body, fields) in cases {
        let reply = s.post(&path, &key, body.clone()).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), fields, "{body}");
    }
    let unknown = s
        .post(
            &path,
            &key,
            json!({"type": "A", "name": "www", "value": "203.0.113.1", "weight": 1}),
        )
        .await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "validation_failed");
    let wrong_json_type = s
        .post(
            &path,
            &key,
            json!({"type": "A", "name": "www", "value": "203.0.113.1", "ttl": "long"}),
        )
        .await;
    assert_error(
        &wrong_json_type,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    for (list, field) in [
        (json!(["ns1.example.net"]), "nameservers"),
        (
            json!(["ns1.example.net", "NS1.example.net."]),
            "nameservers[1]",
        ),
        (json!(["ns1.example.net", "not a host"]), "nameservers[1]"),
    ] {
        let reply = put(&s, &key, &ns_path, json!({"nameservers": list})).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), [field]);
    }
    let many: Vec<String> = (0..14).map(|i| format!("ns{i}.example.net")).collect();
    let reply = put(&s, &key, &ns_path, json!({"nameservers": many})).await;
    assert_eq!(error_fields(&reply), ["nameservers"]);
    let listed = s.get(&path, &key).await;
    assert_eq!(listed.body["items"], json!([]));
    let service = s
        .get(&format!("/v1/agent/services/{service_id}"), &key)
        .await;
    assert_eq!(
        service.body["service"]["details"]["nameservers"],
        json!([
            "ns1.sandbox.agent-store.test",
            "ns2.sandbox.agent-store.test"
        ])
    );
    // The registrar refusing a change (sandbox test marker) is a 502 and writes nothing.
    let refused = s
        .post(
            &path,
            &key,
            json!({"type": "TXT", "name": "@", "value": "sandbox-fail"}),
        )
        .await;
    assert_error(&refused, StatusCode::BAD_GATEWAY, "provider_error");
    let listed = s.get(&path, &key).await;
    assert_eq!(listed.body["items"], json!([]));
    s.stop().await;
}

#[tokio::test]
async fn another_agents_domain_is_not_found_and_a_server_is_the_wrong_type() {
    let (s, owner, _, key) = setup().await;
    let service_id = buy_domain(&s, &key, "launchpad.com").await;
    let (_, other) = s.agent(&owner, "other-bot").await;
    let ns_body = json!({"nameservers": ["ns1.example.net", "ns2.example.net"]});
    let ns_path = format!("/v1/agent/services/{service_id}/domain/nameservers");
    assert_error(
        &put(&s, &other, &ns_path, ns_body.clone()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let path = records("/v1/agent", &service_id);
    assert_error(
        &s.get(&path, &other).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let a = json!({"type": "A", "name": "www", "value": "203.0.113.1"});
    assert_error(
        &s.post(&path, &other, a.clone()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let created = s.post(&path, &key, a.clone()).await;
    let record_id = created.body["dnsRecord"]["id"].as_str().unwrap();
    assert_error(
        &s.delete(&format!("{path}/{record_id}"), &other).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.delete(&format!("{path}/dns_01jdx3c2v8k6c2q4w1z9y7t5re"), &key)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let server = s
        .post(
            "/v1/agent/purchases",
            &key,
            json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "idempotencyKey": "srv-1",
                   "configuration": {"hostname": "web-01", "region": "eu-west", "image": "ubuntu-24.04", "billingTermMonths": 1}}),
        )
        .await;
    let done = wait_for_purchase(
        &s,
        &key,
        "/v1/agent",
        server.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    let server_id = done["serviceIds"][0].as_str().unwrap();
    let wrong = put(
        &s,
        &key,
        &format!("/v1/agent/services/{server_id}/domain/nameservers"),
        ns_body,
    )
    .await;
    assert_error(&wrong, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(error_fields(&wrong), ["serviceId"]);
    for reply in [
        s.get(&records("/v1/agent", server_id), &key).await,
        s.post(&records("/v1/agent", server_id), &key, a.clone())
            .await,
        s.delete(
            &format!("{}/{record_id}", records("/v1/agent", server_id)),
            &key,
        )
        .await,
    ] {
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), ["serviceId"]);
    }
    s.stop().await;
}

#[tokio::test]
async fn allowed_actions_and_service_state_gate_every_domain_action() {
    let (s, owner, agent_id, key) = setup().await;
    let service_id = buy_domain(&s, &key, "launchpad.com").await;
    let path = records("/v1/agent", &service_id);
    let ns_path = format!("/v1/agent/services/{service_id}/domain/nameservers");
    let ns_body = json!({"nameservers": ["ns1.example.net", "ns2.example.net"]});
    let a = json!({"type": "A", "name": "www", "value": "203.0.113.1"});
    let created = s.post(&path, &key, a.clone()).await;
    let record_id = created.body["dnsRecord"]["id"].as_str().unwrap().to_owned();

    // Read-only: records may be listed, nothing may change.
    let policy = put(
        &s,
        &owner.token,
        &format!("/v1/account/agents/{agent_id}/policy"),
        json!({"allowedActions": ["domain:dns-records:read"]}),
    )
    .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.text);
    assert_eq!(s.get(&path, &key).await.status, StatusCode::OK);
    for reply in [
        put(&s, &key, &ns_path, ns_body.clone()).await,
        s.post(&path, &key, a.clone()).await,
        s.delete(&format!("{path}/{record_id}"), &key).await,
    ] {
        assert_error(&reply, StatusCode::FORBIDDEN, "capability_not_allowed");
    }
    // An empty list is the read-only preset (SPEC section 8): listing works, changes do not.
    put(
        &s,
        &owner.token,
        &format!("/v1/account/agents/{agent_id}/policy"),
        json!({"allowedActions": []}),
    )
    .await;
    assert_eq!(s.get(&path, &key).await.status, StatusCode::OK);
    assert_error(
        &s.post(&path, &key, a.clone()).await,
        StatusCode::FORBIDDEN,
        "capability_not_allowed",
    );
    put(
        &s,
        &owner.token,
        &format!("/v1/account/agents/{agent_id}/policy"),
        json!({"allowedActions": null}),
    )
    .await;
    assert_eq!(
        put(&s, &key, &ns_path, ns_body.clone()).await.status,
        StatusCode::OK
    );

    // A domain whose registration failed is not active: every change is refused.
    let failed_id = buy_domain(&s, &key, "launchpad-sandbox-fail.com").await;
    let failed = s
        .get(&format!("/v1/agent/services/{failed_id}"), &key)
        .await;
    assert_eq!(
        failed.body["service"]["status"], "failed",
        "{}",
        failed.text
    );
    let failed_path = records("/v1/agent", &failed_id);
    for reply in [
        put(
            &s,
            &key,
            &format!("/v1/agent/services/{failed_id}/domain/nameservers"),
            ns_body,
        )
        .await,
        s.post(&failed_path, &key, a.clone()).await,
        s.get(&failed_path, &key).await,
        s.delete(&format!("{failed_path}/{record_id}"), &key).await,
    ] {
        assert_error(&reply, StatusCode::CONFLICT, "invalid_state");
    }
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn domain_routes_are_in_the_openapi_document() {
    let s = TestServer::start().await;
    let doc = s
        .send(s.client.get(format!("{}/openapi.json", s.base)))
        .await;
    let paths = doc.body["paths"].as_object().unwrap();
    for base in ["/v1/agent", "/v1/account"] {
        for path in [
            "/services/{serviceId}/domain/nameservers",
            "/services/{serviceId}/domain/dns-records",
            "/services/{serviceId}/domain/dns-records/{recordId}",
        ] {
            assert!(
                paths.contains_key(&format!("{base}{path}")),
                "openapi lacks {base}{path}"
            );
        }
    }
    s.stop().await;
}
