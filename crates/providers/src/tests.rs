//! Behaviour shared by every sandbox provider: determinism, idempotency per service id, the test-mode
//! knobs, and dispatch by service type. Also the request builders the per-provider tests use.

// Unwrapping is the clearest way to say "this must succeed" in a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use agent_store_core::catalog::Catalog;
use serde_json::{Value, json};

use crate::{Providers, ProvisionRequest, SandboxConfig, SandboxProviders};

pub(crate) fn request(service_id: &str, configuration: Value) -> ProvisionRequest {
    ProvisionRequest {
        service_id: service_id.to_owned(),
        catalog_item_id: "cat_test".to_owned(),
        configuration,
        resources: None,
        attempt: 1,
    }
}

/// A VPS Micro request, with the machine size from the default catalog.
pub(crate) fn server_request(service_id: &str, hostname: &str) -> ProvisionRequest {
    let catalog = Catalog::default_catalog();
    let item = catalog.item("cat_vps_micro").unwrap();
    ProvisionRequest {
        catalog_item_id: item.id.clone(),
        resources: item.server_resources(),
        ..request(
            service_id,
            json!({"hostname": hostname, "region": "eu-west", "image": "ubuntu-24.04",
                "billingTermMonths": 1, "backupsEnabled": true}),
        )
    }
}

/// A request for each provisioned service type, as `(service type, request)`.
fn one_of_each(service_id: &str, marker: &str) -> Vec<(&'static str, ProvisionRequest)> {
    vec![
        (
            "domain",
            request(
                service_id,
                json!({"domainName": format!("{marker}x.com"), "periodYears": 1}),
            ),
        ),
        (
            "server",
            server_request(service_id, &format!("{marker}web")),
        ),
        (
            "phone_number",
            request(
                service_id,
                json!({"countryCode": "GB", "numberType": "mobile", "capabilities": ["sms"],
                    "locality": format!("{marker}london")}),
            ),
        ),
        (
            "storage_service",
            request(
                service_id,
                json!({"region": "us-east", "storageClass": "object", "capacityGb": 10,
                    "label": marker}),
            ),
        ),
    ]
}

fn sandbox(config: SandboxConfig) -> (SandboxProviders, Providers) {
    let sandbox = SandboxProviders::new(&config);
    let providers = sandbox.providers();
    (sandbox, providers)
}

#[tokio::test]
async fn details_are_deterministic_for_a_service_id_and_differ_between_ids() {
    for (service_type, req) in one_of_each("svc_same", "") {
        // Two separate sandboxes stand for a process restart: nothing is shared but the service id.
        let first = Providers::sandbox(&SandboxConfig::default());
        let second = Providers::sandbox(&SandboxConfig::default());
        let a = first.provision(service_type, &req).await.unwrap();
        let b = second.provision(service_type, &req).await.unwrap();
        assert_eq!(a.provider_ref, b.provider_ref, "{service_type}");
        if service_type != "domain" {
            // A domain's expiry is computed from the clock; everything else is derived from the id.
            assert_eq!(a.details, b.details, "{service_type}");
        }
        // The domain name is the configuration's, so a second service needs its own name.
        let (_, other) = one_of_each("svc_other", "b")
            .into_iter()
            .find(|(t, _)| *t == service_type)
            .unwrap();
        let c = first.provision(service_type, &other).await.unwrap();
        assert_ne!(a.provider_ref, c.provider_ref, "{service_type}");
        assert_ne!(a.details, c.details, "{service_type}");
    }
}

#[tokio::test]
async fn repeated_calls_return_the_same_resource_and_count_each_call() {
    let (sandbox, providers) = sandbox(SandboxConfig::default());
    for (service_type, req) in one_of_each("svc_repeat", "") {
        let service_id = format!("svc_repeat_{service_type}");
        let req = ProvisionRequest {
            service_id: service_id.clone(),
            ..req
        };
        assert_eq!(sandbox.provision_calls(&service_id), 0);
        let first = providers.provision(service_type, &req).await.unwrap();
        let retry = ProvisionRequest {
            attempt: 2,
            ..req.clone()
        };
        assert_eq!(
            providers.provision(service_type, &retry).await.unwrap(),
            first
        );
        assert_eq!(
            providers.provision(service_type, &req).await.unwrap(),
            first
        );
        assert_eq!(sandbox.provision_calls(&service_id), 3, "{service_type}");
    }
    assert_eq!(sandbox.compute.provision_calls("svc_repeat_server"), 3);
    assert_eq!(sandbox.registrar.provision_calls("svc_repeat_server"), 0);
}

#[tokio::test]
async fn the_fail_marker_fails_every_attempt_permanently() {
    let (sandbox, providers) = sandbox(SandboxConfig::default());
    for (service_type, req) in one_of_each("svc_fail", "sandbox-fail-") {
        for attempt in 1..=3 {
            let req = ProvisionRequest {
                attempt,
                ..req.clone()
            };
            let error = providers.provision(service_type, &req).await.unwrap_err();
            assert!(!error.retryable, "{service_type}");
            assert!(error.message.contains("\"sandbox-fail\""), "{error}");
        }
    }
    assert_eq!(sandbox.compute.provision_calls("svc_fail"), 3);
}

#[tokio::test]
async fn the_flaky_marker_fails_the_first_attempts_then_succeeds() {
    let (_, providers) = sandbox(SandboxConfig {
        flaky_failures: 2,
        ..SandboxConfig::default()
    });
    for (service_type, req) in one_of_each("svc_flaky", "sandbox-flaky-") {
        for attempt in 1..=2 {
            let req = ProvisionRequest {
                attempt,
                ..req.clone()
            };
            let error = providers.provision(service_type, &req).await.unwrap_err();
            assert!(error.retryable, "{service_type} attempt {attempt}");
        }
        let req = ProvisionRequest { attempt: 3, ..req };
        assert!(
            providers.provision(service_type, &req).await.is_ok(),
            "{service_type}"
        );
    }
}

#[tokio::test]
async fn empty_markers_are_disabled() {
    let (_, providers) = sandbox(SandboxConfig {
        fail_marker: String::new(),
        flaky_marker: String::new(),
        ..SandboxConfig::default()
    });
    for (service_type, req) in one_of_each("svc_plain", "sandbox-fail-") {
        assert!(
            providers.provision(service_type, &req).await.is_ok(),
            "{service_type}"
        );
    }
}

#[tokio::test]
async fn configured_service_types_always_fail_and_others_do_not() {
    let (_, providers) = sandbox(SandboxConfig {
        fail_service_types: vec!["server".to_owned(), "phone_number".to_owned()],
        ..SandboxConfig::default()
    });
    for (service_type, req) in one_of_each("svc_types", "") {
        let result = providers.provision(service_type, &req).await;
        if service_type == "server" || service_type == "phone_number" {
            let error = result.unwrap_err();
            assert!(!error.retryable);
            assert!(error.message.contains(service_type), "{error}");
        } else {
            assert!(result.is_ok(), "{service_type}");
        }
    }
}

#[tokio::test]
async fn the_provisioning_delay_is_waited_before_answering() {
    let (_, providers) = sandbox(SandboxConfig {
        provisioning_delay_ms: 60,
        ..SandboxConfig::default()
    });
    let started = Instant::now();
    providers
        .provision("server", &server_request("svc_slow", "slow-01"))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn provisioning_dispatches_by_service_type() {
    let (sandbox, providers) = sandbox(SandboxConfig::default());
    for (service_type, req) in one_of_each("svc_dispatch", "") {
        let service_id = format!("svc_dispatch_{service_type}");
        let req = ProvisionRequest {
            service_id: service_id.clone(),
            ..req
        };
        let done = providers.provision(service_type, &req).await.unwrap();
        let key = match service_type {
            "domain" => "domainName",
            "server" => "ipv4",
            "phone_number" => "phoneNumber",
            _ => "bucketName",
        };
        assert!(
            done.details.get(key).is_some(),
            "{service_type}: {}",
            done.details
        );
        let counts = [
            sandbox.registrar.provision_calls(&service_id),
            sandbox.compute.provision_calls(&service_id),
            sandbox.telephony.provision_calls(&service_id),
            sandbox.storage.provision_calls(&service_id),
        ];
        assert_eq!(counts.iter().sum::<u32>(), 1, "{service_type}: {counts:?}");
    }
    let router = providers
        .provision(
            "llm_router",
            &request("svc_router", json!({"creditAmountUsd": 25})),
        )
        .await
        .unwrap();
    assert_eq!(
        (router.provider_ref.as_str(), router.details),
        ("local", json!({}))
    );
    let unknown = providers
        .provision("spaceship", &request("svc_x", json!({})))
        .await
        .unwrap_err();
    assert!(!unknown.retryable);
}

#[test]
fn the_sandbox_config_has_defaults_and_rejects_unknown_keys() {
    let config: SandboxConfig = serde_json::from_value(json!({"flaky_failures": 1})).unwrap();
    assert_eq!(config.flaky_failures, 1);
    assert_eq!(config.fail_marker, "sandbox-fail");
    assert_eq!(config.flaky_marker, "sandbox-flaky");
    assert_eq!(config.provisioning_delay_ms, 0);
    assert!(config.reserved_domains.contains(&"taken.com".to_owned()));
    assert!(serde_json::from_value::<SandboxConfig>(json!({"fail_markers": "x"})).is_err());
}
