//! The `agent-store` command line: `serve`, `mcp` (the stdio MCP server), `migrate`, and admin commands
//! for accounts, agents, keys and tokens. Admin commands print JSON on standard output; logs go to
//! standard error (for `mcp`, standard output carries only MCP messages).

use std::io::Write;
use std::path::PathBuf;

use agent_store::config::{FlagOverrides, load};
use agent_store::{bootstrap, demo, shutdown_signal, start};
use agent_store_app::config::LogFormat;
use agent_store_app::identity::NewAccount;
use agent_store_app::{App, Config, Principal};
use agent_store_core::keys::random_secret;
use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Debug, Parser)]
#[command(
    name = "agent-store",
    version,
    about = "Agent Store: infrastructure that AI agents buy with money their humans put up."
)]
struct Cli {
    /// TOML configuration file (see config.example.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, server secret, demo.json). Default ./data.
    #[arg(long, global = true)]
    data_dir: Option<String>,
    /// Database URL: sqlite://FILE or postgres://... Default: SQLite in the data directory.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (Agent API, Account API, MCP, OpenAI-compatible router, dashboard).
    Serve {
        /// Address to listen on. Default 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Seed (once) a demo account, agent and key, and print how to connect.
        #[arg(long)]
        demo: bool,
    },
    /// Run an MCP server on standard input/output that forwards every tool call to the Agent API
    /// (for MCP clients that start a command). Needs no database and no configuration file.
    Mcp {
        /// The Agent API base URL.
        #[arg(long, env = agent_store_mcp::stdio::ENV_BASE_URL, default_value = agent_store_mcp::stdio::DEFAULT_BASE_URL)]
        api_base_url: String,
        /// The agent API key (ask_live_...). Prefer the environment variable to the flag, which other
        /// users of the machine can see in the process list.
        #[arg(long, env = agent_store_mcp::stdio::ENV_API_KEY, hide_env_values = true)]
        agent_api_key: String,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Manage agent API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage account tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Wallet operations.
    #[command(subcommand)]
    Wallet(WalletCommand),
    /// Phone numbers (sandbox telephony).
    #[command(subcommand)]
    Phone(PhoneCommand),
}

#[derive(Debug, Subcommand)]
enum PhoneCommand {
    /// Have the sandbox carrier deliver an inbound SMS or call to a number (through the signed
    /// webhook, charged to the number's balance like real traffic).
    Inject {
        /// The account's owner email.
        #[arg(long)]
        account: String,
        /// The phone_number service id (svc_...).
        #[arg(long)]
        service_id: String,
        /// sms or call.
        #[arg(long)]
        kind: String,
        /// The sender or caller, E.164 (e.g. +14155550123).
        #[arg(long)]
        from: String,
        /// SMS text.
        #[arg(long)]
        body: Option<String>,
        /// Calls: the call was answered (otherwise it is a missed call).
        #[arg(long)]
        answered: bool,
        /// Calls: seconds connected (answered calls).
        #[arg(long)]
        duration_seconds: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum WalletCommand {
    /// Fund an account's wallet through the configured payment provider (the sandbox credits at once).
    Fund {
        /// The account's owner email.
        #[arg(long)]
        account: String,
        /// Dollars, up to 2 decimal places (e.g. 100 or 12.50).
        #[arg(long)]
        amount_usd: String,
        /// Idempotency key; retrying with the same key funds once. Default: a new key.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account with an owner login. Without --password one is generated and printed.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "My account")]
        name: String,
        #[arg(long)]
        password: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Create an agent in an account.
    Create {
        /// The account's owner email.
        #[arg(long)]
        account: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Mint an agent API key (printed once).
    Create {
        /// The account's owner email.
        #[arg(long)]
        account: String,
        /// The agent id (agt_...).
        #[arg(long)]
        agent: String,
        #[arg(long, default_value = "cli")]
        label: String,
        /// Optional RFC 3339 expiry.
        #[arg(long)]
        expires_at: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Mint an account token (printed once).
    Create {
        /// The account's owner email.
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "cli")]
        label: String,
        #[arg(long)]
        expires_at: Option<String>,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colours only on a terminal, so piped logs stay plain text for tools that read them.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_ansi(ansi)
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Mcp {
        api_base_url,
        agent_api_key,
    } = cli.command
    {
        // The forwarder is a client of a server: it reads no server configuration.
        init_logging(LogFormat::Text);
        return agent_store_mcp::stdio::serve(&api_base_url, agent_api_key.into()).await;
    }
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let flags = FlagOverrides {
        listen,
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
    };
    let config = load(cli.config.as_deref(), &flags)?;
    init_logging(config.log_format);
    match cli.command {
        Command::Serve { demo, .. } => serve(config, demo).await,
        // Served above, before any configuration is loaded.
        Command::Mcp { .. } => Ok(()),
        Command::Migrate => {
            bootstrap::build_app(config).await?;
            print_json(&json!({"migrated": true}))
        }
        Command::Account(cmd) => admin_account(bootstrap::build_app(config).await?, cmd).await,
        Command::Agent(cmd) => admin_agent(bootstrap::build_app(config).await?, cmd).await,
        Command::Key(cmd) => admin_key(bootstrap::build_app(config).await?, cmd).await,
        Command::Token(cmd) => admin_token(bootstrap::build_app(config).await?, cmd).await,
        Command::Wallet(cmd) => admin_wallet(bootstrap::build_app(config).await?, cmd).await,
        Command::Phone(cmd) => admin_phone(bootstrap::build_app(config).await?, cmd).await,
    }
}

async fn serve(config: Config, seed_demo: bool) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let server = start(config, Some(Box::pin(shutdown_signal()))).await?;
    tracing::info!(addr = %server.addr, database = server.app.store().backend_name(), "agent-store listening");
    if seed_demo {
        let info = demo::ensure_demo(&server.app).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", info.banner(&data_dir.join("demo.json")))?;
    }
    server.wait().await?;
    tracing::info!("agent-store stopped");
    Ok(())
}

/// The owner acting through the CLI: the machine's operator is trusted with the account.
async fn owner(app: &App, email: &str) -> anyhow::Result<Principal> {
    let account = app
        .account_by_email(email)
        .await
        .with_context(|| format!("no account with email {email}"))?;
    Ok(Principal::Account {
        account_id: account.id,
        credential_id: "cli".to_owned(),
    })
}

async fn admin_account(app: App, cmd: AccountCommand) -> anyhow::Result<()> {
    match cmd {
        AccountCommand::Create {
            email,
            name,
            password,
        } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(|| random_secret()[..20].to_owned());
            let account = app
                .create_account(NewAccount {
                    email,
                    name,
                    password: password.clone(),
                })
                .await?;
            let mut out = json!({"account": account});
            if generated {
                out["password"] = json!(password);
            }
            print_json(&out)
        }
    }
}

async fn admin_agent(app: App, cmd: AgentCommand) -> anyhow::Result<()> {
    match cmd {
        AgentCommand::Create { account, name } => {
            let principal = owner(&app, &account).await?;
            print_json(&json!({"agent": app.create_agent(&principal, &name).await?}))
        }
    }
}

async fn admin_key(app: App, cmd: KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Create {
            account,
            agent,
            label,
            expires_at,
        } => {
            let principal = owner(&app, &account).await?;
            let key = app
                .create_agent_key(&principal, &agent, &label, expires_at.as_deref())
                .await?;
            print_json(&json!({"apiKey": key}))
        }
    }
}

async fn admin_token(app: App, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create {
            account,
            label,
            expires_at,
        } => {
            let principal = owner(&app, &account).await?;
            let token = app
                .mint_account_token(principal.account_id(), &label, expires_at.as_deref())
                .await?;
            print_json(&json!({"accountToken": token}))
        }
    }
}

async fn admin_wallet(app: App, cmd: WalletCommand) -> anyhow::Result<()> {
    match cmd {
        WalletCommand::Fund {
            account,
            amount_usd,
            idempotency_key,
        } => {
            let principal = owner(&app, &account).await?;
            let amount_minor = agent_store_core::money::decimal_str_to_minor(&amount_usd)
                .map_err(|e| anyhow::anyhow!("--amount-usd {e}"))?;
            let key = idempotency_key.unwrap_or_else(|| {
                agent_store_core::ids::new_id(agent_store_core::ids::IdKind::Event)
            });
            let keyed = agent_store_app::idempotency::keyed_request(
                Some(&key),
                None,
                "POST",
                "/v1/account/wallet/fundings",
                &json!({"amountMinor": amount_minor}),
            )?
            .context("an idempotency key is required")?;
            let response = app.fund_wallet(&principal, amount_minor, &keyed).await?;
            print_json(&serde_json::from_str(&response.body)?)
        }
    }
}

async fn admin_phone(app: App, cmd: PhoneCommand) -> anyhow::Result<()> {
    match cmd {
        PhoneCommand::Inject {
            account,
            service_id,
            kind,
            from,
            body,
            answered,
            duration_seconds,
        } => {
            let principal = owner(&app, &account).await?;
            let request = agent_store_app::phones::InjectRequest {
                service_id,
                answered: (kind == "call").then_some(answered),
                kind,
                from,
                body,
                duration_seconds,
            };
            let result = app.sandbox_phone_inbound(&principal, &request).await?;
            print_json(&json!({ "inbound": result }))
        }
    }
}
