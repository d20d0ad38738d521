//! The store suite: runs on SQLite always, and on PostgreSQL when AGENT_STORE_TEST_POSTGRES_URL is set.
//! Each test gets a fresh database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use agent_store_core::ids::{IdKind, new_id};
use agent_store_store::credentials::{self, Credential, KIND_AGENT_KEY};
use agent_store_store::test_support::fresh_database_url;
use agent_store_store::{Store, StoreError, StoreOptions, accounts, agents, quotes};

async fn fresh_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await.unwrap();
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

fn account(email: &str) -> accounts::Account {
    accounts::Account {
        id: new_id(IdKind::Account),
        email: email.to_owned(),
        name: "Test".to_owned(),
        password_hash: "x".to_owned(),
        created_at: 1,
        updated_at: 1,
    }
}

fn agent(account_id: &str, name: &str) -> agents::Agent {
    agents::Agent {
        id: new_id(IdKind::Agent),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        status: "active".to_owned(),
        created_at: 1,
        updated_at: 1,
    }
}

fn agent_key(account_id: &str, agent_id: &str, hash: &str) -> Credential {
    Credential {
        id: new_id(IdKind::Key),
        kind: KIND_AGENT_KEY.to_owned(),
        account_id: account_id.to_owned(),
        agent_id: Some(agent_id.to_owned()),
        label: "l".to_owned(),
        secret_hash: hash.to_owned(),
        created_at: 1,
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
    }
}

#[tokio::test]
async fn migrations_apply_and_reapply_cleanly() {
    let (store, _dir) = fresh_store().await;
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

#[tokio::test]
async fn a_second_account_with_the_same_email_is_a_unique_violation() {
    let (store, _dir) = fresh_store().await;
    accounts::insert(store.pool(), &account("a@example.com"))
        .await
        .unwrap();
    let err = accounts::insert(store.pool(), &account("a@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UniqueViolation), "{err:?}");
    let found = accounts::get_by_email(store.pool(), "a@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.email, "a@example.com");
}

#[tokio::test]
async fn agents_are_only_visible_to_their_own_account() {
    let (store, _dir) = fresh_store().await;
    let a = account("a@example.com");
    let b = account("b@example.com");
    accounts::insert(store.pool(), &a).await.unwrap();
    accounts::insert(store.pool(), &b).await.unwrap();
    let bot = agent(&a.id, "bot");
    agents::insert(store.pool(), &bot).await.unwrap();
    assert!(
        agents::get(store.pool(), &a.id, &bot.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        agents::get(store.pool(), &b.id, &bot.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        agents::update(store.pool(), &b.id, &bot.id, Some("stolen"), None, 2)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        agents::list(store.pool(), &b.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn agent_lists_page_newest_first() {
    let (store, _dir) = fresh_store().await;
    let a = account("a@example.com");
    accounts::insert(store.pool(), &a).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let bot = agent(&a.id, &format!("bot{i}"));
        ids.push(bot.id.clone());
        agents::insert(store.pool(), &bot).await.unwrap();
    }
    let first = agents::list(store.pool(), &a.id, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
        vec![ids[4].clone(), ids[3].clone()]
    );
    let second = agents::list(store.pool(), &a.id, Some(&ids[3]), 2)
        .await
        .unwrap();
    assert_eq!(
        second.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
        vec![ids[2].clone(), ids[1].clone()]
    );
}

#[tokio::test]
async fn a_credential_must_match_its_kind_and_revocation_keeps_the_first_time() {
    let (store, _dir) = fresh_store().await;
    let a = account("a@example.com");
    accounts::insert(store.pool(), &a).await.unwrap();
    let bot = agent(&a.id, "bot");
    agents::insert(store.pool(), &bot).await.unwrap();
    // An agent key without an agent breaks the CHECK constraint.
    let mut broken = agent_key(&a.id, &bot.id, "h0");
    broken.agent_id = None;
    assert!(matches!(
        credentials::insert(store.pool(), &broken)
            .await
            .unwrap_err(),
        StoreError::ConstraintViolation(_)
    ));
    let key = agent_key(&a.id, &bot.id, "h1");
    credentials::insert(store.pool(), &key).await.unwrap();
    let first = credentials::revoke(
        store.pool(),
        &a.id,
        KIND_AGENT_KEY,
        Some(&bot.id),
        &key.id,
        100,
    )
    .await
    .unwrap()
    .unwrap();
    let again = credentials::revoke(
        store.pool(),
        &a.id,
        KIND_AGENT_KEY,
        Some(&bot.id),
        &key.id,
        200,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(first.revoked_at, Some(100));
    assert_eq!(again.revoked_at, Some(100));
    let auth = credentials::get_for_auth(store.pool(), &key.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(auth.agent_status.as_deref(), Some("active"));
    assert_eq!(auth.credential.revoked_at, Some(100));
}

#[tokio::test]
async fn last_used_is_written_at_most_once_a_minute() {
    let (store, _dir) = fresh_store().await;
    let a = account("a@example.com");
    accounts::insert(store.pool(), &a).await.unwrap();
    let bot = agent(&a.id, "bot");
    agents::insert(store.pool(), &bot).await.unwrap();
    let key = agent_key(&a.id, &bot.id, "h1");
    credentials::insert(store.pool(), &key).await.unwrap();
    credentials::touch(store.pool(), &key.id, 1_000_000)
        .await
        .unwrap();
    credentials::touch(store.pool(), &key.id, 1_030_000)
        .await
        .unwrap();
    let seen = credentials::get_for_auth(store.pool(), &key.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.credential.last_used_at, Some(1_000_000));
    credentials::touch(store.pool(), &key.id, 1_061_000)
        .await
        .unwrap();
    let seen = credentials::get_for_auth(store.pool(), &key.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.credential.last_used_at, Some(1_061_000));
}

#[tokio::test]
async fn quotes_are_scoped_to_their_agent() {
    let (store, _dir) = fresh_store().await;
    let a = account("a@example.com");
    accounts::insert(store.pool(), &a).await.unwrap();
    let bot = agent(&a.id, "bot");
    let other = agent(&a.id, "other");
    agents::insert(store.pool(), &bot).await.unwrap();
    agents::insert(store.pool(), &other).await.unwrap();
    let q = quotes::Quote {
        id: new_id(IdKind::Quote),
        account_id: a.id.clone(),
        agent_id: Some(bot.id.clone()),
        catalog_item_id: "cat_vps_micro".to_owned(),
        quantity: 1,
        unit_price_minor: 2400,
        total_price_minor: 2400,
        currency: "usd".to_owned(),
        display_name: "VPS".to_owned(),
        configuration: "{}".to_owned(),
        quote_details: "{\"lines\":[]}".to_owned(),
        capabilities: "[]".to_owned(),
        domain_name: None,
        status: "open".to_owned(),
        expires_at: 10,
        created_at: 1,
        used_at: None,
    };
    quotes::insert(store.pool(), &q).await.unwrap();
    assert!(
        quotes::get(store.pool(), &a.id, Some(&bot.id), &q.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        quotes::get(store.pool(), &a.id, Some(&other.id), &q.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        quotes::get(store.pool(), &a.id, None, &q.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        quotes::get(store.pool(), "acct_other", None, &q.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn concurrent_write_transactions_all_commit() {
    // With a deferred BEGIN, SQLite writers that upgrade from read to write fail with SQLITE_BUSY;
    // BEGIN IMMEDIATE makes them queue instead. Every one of these read-then-write transactions must land.
    let (store, _dir) = fresh_store().await;
    let a = account("a@example.com");
    accounts::insert(store.pool(), &a).await.unwrap();
    let bot = agent(&a.id, "bot");
    agents::insert(store.pool(), &bot).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        let (account_id, agent_id) = (a.id.clone(), bot.id.clone());
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin_write().await.unwrap();
            let current = agents::get(&mut *tx, &account_id, &agent_id)
                .await
                .unwrap()
                .unwrap();
            let next = current.updated_at + 1;
            agents::update(&mut *tx, &account_id, &agent_id, None, None, next)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // PostgreSQL READ COMMITTED may interleave the reads (no lost-update protection without row locks),
    // so the exact count is asserted on SQLite, where BEGIN IMMEDIATE serializes writers.
    let end = agents::get(store.pool(), &a.id, &bot.id)
        .await
        .unwrap()
        .unwrap();
    if store.backend() == agent_store_store::Backend::Sqlite {
        assert_eq!(end.updated_at, 17);
    } else {
        assert!(end.updated_at >= 2);
    }
}
