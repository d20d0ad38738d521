//! `serve --demo`: seed, once, a demo account with an owner login, an agent and its key, and an account
//! token; write them to `<data dir>/demo.json` (mode 0600) and reuse them on later starts.

use agent_store_app::identity::NewAccount;
use agent_store_app::{App, Principal};
use agent_store_core::keys::random_secret;
use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::bootstrap::write_private_file;

pub const DEMO_EMAIL: &str = "demo@agent-store.local";
const DEMO_FILE: &str = "demo.json";
/// The demo wallet starts with 100 USD.
pub const DEMO_FUNDING_MINOR: i64 = 10_000;

/// What `demo.json` holds: everything needed to connect.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoInfo {
    pub api_base_url: String,
    pub mcp_url: String,
    pub openai_base_url: String,
    pub dashboard_url: String,
    pub agent_id: String,
    pub agent_api_key: String,
    pub account_token: String,
    pub email: String,
    pub password: String,
}

/// Seed the demo account unless `demo.json` already describes one that exists in this database.
pub async fn ensure_demo(app: &App) -> anyhow::Result<DemoInfo> {
    let path = app.config().data_dir.join(DEMO_FILE);
    let base = app.config().effective_public_base_url();
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(mut info) = serde_json::from_str::<DemoInfo>(&text)
        && app.account_by_email(&info.email).await.is_ok()
    {
        // URLs follow the current listener; credentials stay.
        info.set_urls(&base);
        return Ok(info);
    }
    let password = random_secret()[..20].to_owned();
    let account = match app.account_by_email(DEMO_EMAIL).await {
        Ok(existing) => anyhow::bail!(
            "the database already has a demo account ({}) but {} is missing; remove the data directory to re-seed",
            existing.email,
            path.display()
        ),
        Err(_) => app
            .create_account(NewAccount {
                email: DEMO_EMAIL.to_owned(),
                name: "Demo account".to_owned(),
                password: password.clone(),
            })
            .await
            .context("cannot create the demo account")?,
    };
    let token = app
        .mint_account_token(&account.id, "demo", None)
        .await
        .context("cannot mint the demo account token")?;
    let owner = Principal::Account {
        account_id: account.id.clone(),
        credential_id: token.id.clone(),
    };
    let agent = app
        .create_agent(&owner, "demo-agent")
        .await
        .context("cannot create the demo agent")?;
    let key = app
        .create_agent_key(&owner, &agent.id, "demo", None)
        .await
        .context("cannot mint the demo agent key")?;
    let keyed = agent_store_app::idempotency::Keyed {
        key: "demo-seed-funding".to_owned(),
        request_hash: "demo-seed-funding".to_owned(),
    };
    app.fund_wallet(&owner, DEMO_FUNDING_MINOR, &keyed)
        .await
        .context("cannot fund the demo wallet")?;
    let mut info = DemoInfo {
        api_base_url: String::new(),
        mcp_url: String::new(),
        openai_base_url: String::new(),
        dashboard_url: String::new(),
        agent_id: agent.id,
        agent_api_key: key.key.unwrap_or_default(),
        account_token: token.token.unwrap_or_default(),
        email: account.email,
        password,
    };
    info.set_urls(&base);
    let _ = std::fs::remove_file(&path);
    write_private_file(&path, serde_json::to_string_pretty(&info)?.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(info)
}

impl DemoInfo {
    fn set_urls(&mut self, base: &str) {
        self.api_base_url = format!("{base}/v1/agent");
        self.mcp_url = format!("{base}/mcp");
        self.openai_base_url = format!("{base}/openai/v1");
        self.dashboard_url = format!("{base}/dashboard");
    }

    /// The text printed on start: how to connect.
    pub fn banner(&self, demo_file: &std::path::Path) -> String {
        let mcp = serde_json::json!({"mcpServers": {"agent-store": {"transport": {"type": "streamable-http",
            "url": self.mcp_url, "headers": {"Authorization": format!("Bearer {}", self.agent_api_key)}}}}});
        format!(
            "\nAgent Store demo is ready (saved to {file}).\n\n  Agent API base URL  {api}\n  Agent API key       {key}\n  Account token       {token}\n  Dashboard           {dash}  (login {email} / {password})\n  OpenAI base URL     {openai}\n\nTry it:\n  curl -H 'Authorization: Bearer {key}' {api}/catalog/categories\n\nMCP client config:\n{mcp}\n",
            file = demo_file.display(),
            api = self.api_base_url,
            key = self.agent_api_key,
            token = self.account_token,
            dash = self.dashboard_url,
            email = self.email,
            password = self.password,
            openai = self.openai_base_url,
            mcp = serde_json::to_string_pretty(&mcp).unwrap_or_default(),
        )
    }
}
