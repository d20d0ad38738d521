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

    /// Load `text` as the configuration file, then run every check `serve` runs on a loaded
    /// configuration (the platform policy, the router's upstreams and models).
    fn load_and_validate(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text)?;
        let config = load(Some(&path), &FlagOverrides::default())?;
        let _ = config.platform_policy.validate();
        let _ = config.router.problems();
        Ok(config)
    }

    /// Keys of the real schema with values of any type, so the generated files reach the typed
    /// fields instead of stopping at the first unknown key.
    fn config_line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("listen"),
            Just("data_dir"),
            Just("database_url"),
            Just("public_base_url"),
            Just("log_format"),
            Just("limits.rate_limit_per_second"),
            Just("limits.rate_limit_burst"),
            Just("limits.request_timeout_seconds"),
            Just("quotes.ttl_seconds"),
            Just("platform_policy.maxPurchaseMinor"),
            Just("platform_policy.dailySpendLimitMinor"),
            Just("platform_policy.blockedCategories"),
            Just("router.sandbox_enabled"),
            Just("router.upstream_timeout_seconds"),
            Just("funding.max_amount_minor"),
            Just("mcp.allowed_hosts"),
            Just("database.sqlite_synchronous"),
            Just("unknown_key"),
        ];
        let value = prop_oneof![
            any::<i64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:?}")),
            any::<bool>().prop_map(|v| v.to_string()),
            "[ -~]{0,20}".prop_map(|v| format!("{v:?}")),
            Just("[1, \"a\", true]".to_owned()),
            Just("{ a = 1 }".to_owned()),
            Just("[]".to_owned()),
            "[ -~]{0,10}",
        ];
        (key, value).prop_map(|(k, v)| format!("{k} = {v}"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        #[test]
        fn arbitrary_text_never_panics_loading_or_validating_the_configuration(text in "(?s).{0,300}") {
            let _ = load_and_validate(&text);
        }

        #[test]
        fn schema_shaped_files_with_any_values_never_panic(lines in proptest::collection::vec(config_line(), 0..8)) {
            let _ = load_and_validate(&lines.join("\n"));
        }

        #[test]
        fn valid_configurations_round_trip_through_the_file(
            port in 1u16..,
            per_second in 1u32..100_000,
            burst in 1u32..100_000,
            timeout in 1u64..86_400,
            ttl in 1u64..86_400,
            max_purchase in proptest::option::of(0i64..1_000_000_000),
            sandbox in proptest::prelude::any::<bool>(),
            synchronous in proptest::prelude::prop_oneof![proptest::prelude::Just("full"), proptest::prelude::Just("normal")],
        ) {
            let mut text = format!(
                "listen = \"127.0.0.1:{port}\"\n[limits]\nrate_limit_per_second = {per_second}\n\
                 rate_limit_burst = {burst}\nrequest_timeout_seconds = {timeout}\n[quotes]\nttl_seconds = {ttl}\n\
                 [database]\nsqlite_synchronous = \"{synchronous}\"\n[router]\nsandbox_enabled = {sandbox}\n"
            );
            if let Some(max) = max_purchase {
                text.push_str(&format!("[platform_policy]\nmaxPurchaseMinor = {max}\n"));
            }
            let config = load_and_validate(&text).unwrap();
            proptest::prop_assert_eq!(config.listen, format!("127.0.0.1:{port}"));
            proptest::prop_assert_eq!(config.limits.rate_limit_per_second, per_second);
            proptest::prop_assert_eq!(config.limits.rate_limit_burst, burst);
            proptest::prop_assert_eq!(config.limits.request_timeout_seconds, timeout);
            proptest::prop_assert_eq!(config.quotes.ttl_seconds, ttl);
            proptest::prop_assert_eq!(config.router.sandbox_enabled, sandbox);
            proptest::prop_assert_eq!(
                serde_json::to_value(config.database.sqlite_synchronous).unwrap(),
                serde_json::json!(synchronous)
            );
            proptest::prop_assert_eq!(config.platform_policy.max_purchase_minor, max_purchase);
            proptest::prop_assert!(config.platform_policy.validate().is_ok());
        }
    }

    #[test]
    fn the_example_file_is_a_valid_configuration() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config.example.toml");
        load(Some(&path), &FlagOverrides::default()).unwrap();
    }
}
