//! The purchase path: `POST /v1/agent/purchases` of pre-created quotes at a fixed concurrency
//! (closed loop), against the storage limit: the same rows written by a bare write transaction
//! issued directly to the same database with the same durability setting and pool size.
//!
//! The baseline transaction writes exactly what a purchase commits - the account spend lock, the
//! quote marked used, the purchase row, its service, the provisioning job, the ledger capture
//! (balance updates, transaction, entries), the purchase's service ids, the spend record, the audit
//! event and the idempotency record with a response body of the real size - through the store
//! crate's own functions, without HTTP, authentication, reads, policy evaluation or JSON.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::time::now_ms;
use agent_store_store::audit::AuditEvent;
use agent_store_store::ledger::{self, NewTransaction};
use agent_store_store::purchases::Purchase;
use agent_store_store::quotes::Quote;
use agent_store_store::services::Service;
use agent_store_store::spends::NewSpend;
use agent_store_store::{
    Store, StoreOptions, accounts, audit, commit, idempotency, jobs, purchases, quotes, services,
    spends,
};
use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::server::Server;
use crate::stats::{Samples, Summary};

/// What every benchmark purchase buys: 250 GB of object storage, 5.00 USD.
pub fn quote_body() -> Value {
    json!({"catalogItemId": "cat_storage_object_001", "quantity": 1,
           "configuration": {"region": "us-east", "storageClass": "object", "capacityGb": 250}})
}

/// Create `n` quotes as the demo agent (8 at a time); returns their ids.
pub async fn create_quotes(server: &Server, n: usize) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let next = next.clone();
        let client = server.client.clone();
        let url = format!("{}/v1/agent/quotes", server.base);
        let key = server.demo.agent_api_key.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&quote_body())
                    .send()
                    .await?;
                let status = response.status();
                let body: Value = response.json().await?;
                if status.as_u16() != 201 {
                    bail!("quote creation failed: {status} {body}");
                }
                ids.push(
                    body["quote"]["id"]
                        .as_str()
                        .context("quote without id")?
                        .to_owned(),
                );
            }
            Ok::<_, anyhow::Error>(ids)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

/// Wait (at most 120 s) until the server's worker has no provisioning left, so one phase's
/// background work does not load the next phase.
pub async fn drain_jobs(store: &Store) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if jobs::unfinished(store.pool()).await?.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("provisioning jobs still unfinished after 120 s")
}

/// Buy each quote once with `concurrency` workers; stops early after `max_time`.
pub async fn run_app(
    server: &Server,
    quote_ids: Vec<String>,
    concurrency: usize,
    max_time: Duration,
) -> anyhow::Result<Summary> {
    let quote_ids = Arc::new(quote_ids);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (quote_ids, next) = (quote_ids.clone(), next.clone());
        let client = server.client.clone();
        let url = format!("{}/v1/agent/purchases", server.base);
        let key = server.demo.agent_api_key.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= quote_ids.len() || start.elapsed() > max_time {
                    break;
                }
                let body = json!({"quoteId": quote_ids[i], "idempotencyKey": format!("bench-{}", quote_ids[i])});
                let began = Instant::now();
                let ok = match client.post(&url).bearer_auth(&key).json(&body).send().await {
                    Ok(r) => r.status().as_u16() == 201 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    samples.push(began.elapsed());
                } else {
                    samples.errors += 1;
                }
            }
            samples
        }));
    }
    let mut all = Samples::default();
    for task in tasks {
        let s = task.await?;
        all.latencies_us.extend(s.latencies_us);
        all.errors += s.errors;
    }
    Ok(all.summary(start.elapsed()))
}

/// Everything the baseline transaction needs besides fresh ids.
#[derive(Debug, Clone)]
pub struct BaselineTemplate {
    pub account_id: String,
    pub agent_id: String,
    pub key_id: String,
    /// A real quote of the demo agent, cloned (with new ids) for each baseline transaction.
    pub quote: Quote,
    /// A real purchase response body (the stored idempotency response has this size).
    pub response_body: String,
}

impl BaselineTemplate {
    /// Read a real quote and purchase made through the API as the template.
    pub async fn from_server(
        server: &Server,
        store: &Store,
        quote_id: &str,
        response_body: String,
    ) -> anyhow::Result<Self> {
        let account_id = server.account_id().await?;
        let quote = quotes::get(
            store.pool(),
            &account_id,
            Some(&server.demo.agent_id),
            quote_id,
        )
        .await?
        .context("template quote not found")?;
        Ok(Self {
            account_id,
            agent_id: server.demo.agent_id.clone(),
            key_id: server.agent_key_id(),
            quote,
            response_body,
        })
    }
}

/// Open the server's database the way the server does (same pool size and durability).
pub async fn open_store(url: &str, sqlite_synchronous: &str, pool: u32) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: pool,
        sqlite_synchronous: sqlite_synchronous.to_owned(),
        ..StoreOptions::default()
    };
    Ok(Store::connect(url, &options).await?)
}

/// Insert `n` open quotes copied from the template (untimed setup of the baseline).
pub async fn baseline_quotes(
    store: &Store,
    t: &BaselineTemplate,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let mut tx = store.begin_write().await?;
    let now = now_ms();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let quote = Quote {
            id: new_id(IdKind::Quote),
            status: "open".to_owned(),
            created_at: now,
            expires_at: now + 3_600_000,
            used_at: None,
            ..t.quote.clone()
        };
        quotes::insert(&mut *tx, &quote).await?;
        ids.push(quote.id);
    }
    commit(tx).await?;
    Ok(ids)
}

/// One bare purchase-equivalent write transaction.
async fn baseline_tx(store: &Store, t: &BaselineTemplate, quote_id: &str) -> anyhow::Result<()> {
    let now = now_ms();
    let q = &t.quote;
    let purchase_id = new_id(IdKind::Purchase);
    let service_id = new_id(IdKind::Service);
    let mut tx = store.begin_write().await?;
    accounts::lock_for_spend(&mut tx, &t.account_id).await?;
    if !quotes::mark_used(&mut tx, quote_id, now).await? {
        bail!("baseline quote {quote_id} already used");
    }
    let purchase = Purchase {
        id: purchase_id.clone(),
        account_id: t.account_id.clone(),
        agent_id: Some(t.agent_id.clone()),
        key_id: Some(t.key_id.clone()),
        quote_id: quote_id.to_owned(),
        catalog_item_id: q.catalog_item_id.clone(),
        category: "storage".to_owned(),
        service_type: "storage_service".to_owned(),
        quantity: q.quantity,
        total_price_minor: q.total_price_minor,
        currency: q.currency.clone(),
        display_name: q.display_name.clone(),
        configuration: q.configuration.clone(),
        quote_details: q.quote_details.clone(),
        domain_name: None,
        top_up_service_id: None,
        status: "provisioning".to_owned(),
        approval_required: 0,
        approval_status: "not_required".to_owned(),
        approval_reasons: "[]".to_owned(),
        approval_expires_at: None,
        decided_at: None,
        decided_by: None,
        decision_reason: None,
        failure_reason: None,
        idempotency_key: Some(format!("base-{quote_id}")),
        note: None,
        service_ids: "[]".to_owned(),
        created_at: now,
        updated_at: now,
    };
    purchases::insert(&mut tx, &purchase).await?;
    let service = Service {
        id: service_id.clone(),
        account_id: t.account_id.clone(),
        agent_id: Some(t.agent_id.clone()),
        purchase_id: purchase_id.clone(),
        catalog_item_id: q.catalog_item_id.clone(),
        service_type: "storage_service".to_owned(),
        status: "provisioning".to_owned(),
        display_name: q.display_name.clone(),
        configuration: q.configuration.clone(),
        capabilities: q.capabilities.clone(),
        details: "{}".to_owned(),
        provider_ref: None,
        created_at: now,
        updated_at: now,
        renews_at: Some(now),
        expires_at: None,
    };
    services::insert(&mut tx, &service).await?;
    jobs::enqueue(
        &mut tx,
        &new_id(IdKind::Job),
        "provision_service",
        &service_id,
        now,
        now,
    )
    .await?;
    let micro = q.total_price_minor * 10_000;
    ledger::post(
        &mut tx,
        &NewTransaction {
            id: new_id(IdKind::Transaction),
            account_id: t.account_id.clone(),
            kind: "capture",
            purchase_id: Some(purchase_id.clone()),
            service_id: None,
            agent_id: Some(t.agent_id.clone()),
            description: format!("{} (5.00 USD)", q.display_name),
            postings: vec![
                (ledger::wallet_account(&t.account_id), -micro),
                (ledger::REVENUE.to_owned(), micro),
            ],
            created_at: now,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("baseline posting: {e}"))?;
    purchases::set_services(
        &mut tx,
        &purchase_id,
        &format!("[\"{service_id}\"]"),
        "provisioning",
        now,
    )
    .await?;
    spends::insert(
        &mut tx,
        &NewSpend {
            id: new_id(IdKind::Spend),
            account_id: t.account_id.clone(),
            agent_id: Some(t.agent_id.clone()),
            key_id: Some(t.key_id.clone()),
            purchase_id: Some(purchase_id.clone()),
            service_id: None,
            category: "storage".to_owned(),
            catalog_item_id: q.catalog_item_id.clone(),
            amount_minor: q.total_price_minor,
            counts_as_purchase: true,
            status: "captured",
            created_at: now,
        },
    )
    .await?;
    audit::insert(
        &mut *tx,
        &AuditEvent {
            id: new_id(IdKind::Event),
            account_id: t.account_id.clone(),
            actor_type: "agent".to_owned(),
            actor_id: t.agent_id.clone(),
            credential_id: Some(t.key_id.clone()),
            action: "purchase.created".to_owned(),
            object_type: "purchase".to_owned(),
            object_id: purchase_id.clone(),
            before_status: None,
            after_status: Some("provisioning".to_owned()),
            details:
                json!({"totalPriceMinor": q.total_price_minor, "catalogItemId": q.catalog_item_id,
                            "decision": "allow", "reasons": []})
                .to_string(),
            request_id: Some(new_id(IdKind::Event)),
            created_at: now,
        },
    )
    .await?;
    idempotency::insert(
        &mut tx,
        &idempotency::Record {
            scope: format!("agent:{}", t.agent_id),
            idem_key: format!("base-{quote_id}"),
            request_hash: "0".repeat(64),
            response_status: 201,
            response_body: t.response_body.clone(),
            created_at: now,
            expires_at: now + 604_800_000,
        },
    )
    .await?;
    commit(tx).await?;
    Ok(())
}

/// Run baseline transactions for each quote id with `concurrency` workers; stops after `max_time`.
pub async fn run_baseline(
    store: &Store,
    template: &BaselineTemplate,
    quote_ids: Vec<String>,
    concurrency: usize,
    max_time: Duration,
) -> anyhow::Result<Summary> {
    let quote_ids = Arc::new(quote_ids);
    let template = Arc::new(template.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (quote_ids, next, template) = (quote_ids.clone(), next.clone(), template.clone());
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= quote_ids.len() || start.elapsed() > max_time {
                    break;
                }
                let began = Instant::now();
                match baseline_tx(&store, &template, &quote_ids[i]).await {
                    Ok(()) => samples.push(began.elapsed()),
                    Err(e) => {
                        samples.errors += 1;
                        first_error.get_or_insert(e.to_string());
                    }
                }
            }
            (samples, first_error)
        }));
    }
    let mut all = Samples::default();
    for task in tasks {
        let (s, err) = task.await?;
        if let Some(err) = err {
            eprintln!("baseline error: {err}");
        }
        all.latencies_us.extend(s.latencies_us);
        all.errors += s.errors;
    }
    Ok(all.summary(start.elapsed()))
}
