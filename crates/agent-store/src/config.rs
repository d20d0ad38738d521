//! Loading the configuration: built-in defaults, then the TOML file, then `AGENT_STORE_*` environment
//! variables (nested keys with `__`, e.g. `AGENT_STORE_LIMITS__RATE_LIMIT_BURST`), then flags.
//! Unknown keys anywhere are an error that names the key.

use std::path::Path;

use agent_store_app::Config;
use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

/// Environment variables with the `AGENT_STORE_` prefix that are not configuration keys: the stdio MCP
/// forwarder's settings and the test suite's database URL.
const NON_CONFIG_ENV: [&str; 3] = ["API_BASE_URL", "AGENT_API_KEY", "TEST_POSTGRES_URL"];

/// Values given on the command line; each one set overrides everything else.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// Load the configuration from `file` (if given), the environment and `flags`.
pub fn load(file: Option<&Path>, flags: &FlagOverrides) -> anyhow::Result<Config> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        anyhow::ensure!(
            path.exists(),
            "config file {} does not exist",
            path.display()
        );
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment
        .merge(
            Env::prefixed("AGENT_STORE_")
                .ignore(&NON_CONFIG_ENV)
                .split("__"),
        )
        .merge(Serialized::defaults(flags));
    figment.extract::<Config>().context("invalid configuration")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9\"\nlisten_typo = 1\n").unwrap();
        let err = format!(
            "{:#}",
            load(Some(&path), &FlagOverrides::default()).unwrap_err()
        );
        assert!(err.contains("listen_typo"), "{err}");
    }

    #[test]
    fn flags_override_the_file_and_nested_keys_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9\"\n[limits]\nrate_limit_burst = 7\n",
        )
        .unwrap();
        let flags = FlagOverrides {
            listen: Some("127.0.0.1:10".into()),
            ..FlagOverrides::default()
        };
        let config = load(Some(&path), &flags).unwrap();
        assert_eq!(config.listen, "127.0.0.1:10");
        assert_eq!(config.limits.rate_limit_burst, 7);
        assert_eq!(config.limits.rate_limit_per_second, 20);
    }

    #[test]
    fn the_platform_policy_layer_loads_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[platform_policy]\nmaxPurchaseMinor = 500000\nblockedCategories = [\"telephony\"]\n",
        )
        .unwrap();
        let config = load(Some(&path), &FlagOverrides::default()).unwrap();
        assert_eq!(config.platform_policy.max_purchase_minor, Some(500_000));
        assert_eq!(
            config.platform_policy.blocked_categories,
            vec!["telephony".to_owned()]
        );
    }

    #[test]
    fn the_example_file_is_a_valid_configuration() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config.example.toml");
        load(Some(&path), &FlagOverrides::default()).unwrap();
    }
}
