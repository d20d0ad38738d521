//! Invalid configurations: every bad field is named at once, with a message giving the valid values.

use serde_json::{Value, json};

use super::{catalog, error_fields, quote, valid_configuration};
use crate::fields::FieldError;
use crate::ids::{IdKind, new_id};

fn rejected(id: &str, configuration: Value) -> Vec<FieldError> {
    quote(id, 1, configuration).expect_err("configuration should be rejected")
}

fn message<'a>(errors: &'a [FieldError], field: &str) -> &'a str {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.as_str())
        .unwrap_or_else(|| panic!("no error for {field}"))
}

/// `base` with `changes` merged in (a `null` change removes the key).
fn with(base: Value, changes: Value) -> Value {
    let mut out = base.as_object().cloned().unwrap();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

#[test]
fn an_absent_configuration_reports_every_required_field() {
    let catalog = catalog();
    let item = catalog.item("cat_vps_micro").unwrap();
    let errors = catalog.price(item, 1, None).unwrap_err();
    assert_eq!(
        error_fields(&errors),
        [
            "configuration.billingTermMonths",
            "configuration.hostname",
            "configuration.image",
            "configuration.region"
        ]
    );
    assert!(errors.iter().all(|e| e.message == "is required"));
}

#[test]
fn a_configuration_that_is_not_an_object_is_rejected() {
    let errors = rejected("cat_vps_micro", json!(["hostname"]));
    assert_eq!(error_fields(&errors), ["configuration"]);
}

#[test]
fn every_item_rejects_an_unknown_field() {
    for item in catalog().items() {
        let errors = rejected(
            &item.id,
            with(valid_configuration(&item.id), json!({"colour": "blue"})),
        );
        assert_eq!(
            error_fields(&errors),
            ["configuration.colour"],
            "{}",
            item.id
        );
        assert!(
            errors[0]
                .message
                .contains("is not a known field for this item")
        );
    }
}

#[test]
fn every_item_rejects_wrong_json_types_for_each_field() {
    for item in catalog().items() {
        let valid = valid_configuration(&item.id);
        let mut bad = serde_json::Map::new();
        for (key, value) in valid.as_object().unwrap() {
            // A value of a different JSON type than the valid one.
            let wrong = if value.is_string() {
                json!(42)
            } else {
                json!({"nested": true})
            };
            bad.insert(key.clone(), wrong);
        }
        let errors = rejected(&item.id, Value::Object(bad));
        let mut expected: Vec<String> = valid
            .as_object()
            .unwrap()
            .keys()
            .map(|k| format!("configuration.{k}"))
            .collect();
        expected.sort();
        assert_eq!(error_fields(&errors), expected, "{}", item.id);
    }
}

#[test]
fn domain_configuration_errors_are_all_reported_with_their_rules() {
    let errors = rejected(
        "cat_domain_com",
        json!({"domainName": "-bad-.com", "periodYears": 11, "registrantEmail": "ops at example.com",
            "registrantCountry": "XX", "autoRenew": "yes", "privacyProtection": 1}),
    );
    assert_eq!(errors.len(), 6);
    assert!(message(&errors, "configuration.domainName").contains("hyphen"));
    assert_eq!(
        message(&errors, "configuration.periodYears"),
        "must be an integer between 1 and 10"
    );
    assert!(message(&errors, "configuration.registrantEmail").contains("email address"));
    assert!(message(&errors, "configuration.registrantCountry").contains("ISO 3166-1 alpha-2"));
    assert_eq!(
        message(&errors, "configuration.autoRenew"),
        "must be true or false"
    );
}

#[test]
fn domain_names_must_be_one_label_plus_the_items_tld() {
    let base = valid_configuration("cat_domain_com");
    let cases = [
        ("launchpad.net", "must end in .com"),
        ("www.launchpad.com", "exactly one label"),
        ("launch pad.com", "whitespace"),
        (" launchpad.com", "whitespace"),
        (".com", "is empty"),
        ("launch_pad.com", "letters, digits and hyphens"),
        ("launchpad.com.", "must end in .com"),
    ];
    for (name, expected) in cases {
        let errors = rejected(
            "cat_domain_com",
            with(base.clone(), json!({"domainName": name})),
        );
        assert!(
            message(&errors, "configuration.domainName").contains(expected),
            "{name}: {errors:?}"
        );
    }
    let long = format!("{}.com", "a".repeat(64));
    let errors = rejected(
        "cat_domain_com",
        with(base.clone(), json!({"domainName": long})),
    );
    assert!(message(&errors, "configuration.domainName").contains("longer than 63"));
    let too_long = format!("{}.com", "a.".repeat(130));
    let errors = rejected(
        "cat_domain_com",
        with(base, json!({"domainName": too_long})),
    );
    assert!(message(&errors, "configuration.domainName").contains("253"));
}

#[test]
fn ai_domains_need_at_least_two_years() {
    let errors = rejected(
        "cat_domain_ai",
        with(
            valid_configuration("cat_domain_ai"),
            json!({"periodYears": 1}),
        ),
    );
    assert_eq!(
        message(&errors, "configuration.periodYears"),
        "must be an integer between 2 and 10"
    );
}

#[test]
fn registrant_emails_get_a_pragmatic_check() {
    let base = valid_configuration("cat_domain_com");
    for email in [
        "ops",
        "@example.com",
        "ops@example",
        "ops@@example.com",
        "a@b@example.com",
        "ops@.com",
        "ops@example.",
        "o ps@example.com",
    ] {
        let errors = rejected(
            "cat_domain_com",
            with(base.clone(), json!({"registrantEmail": email})),
        );
        assert_eq!(
            error_fields(&errors),
            ["configuration.registrantEmail"],
            "{email}"
        );
    }
    let long = format!("{}@example.com", "a".repeat(250));
    assert_eq!(
        error_fields(&rejected(
            "cat_domain_com",
            with(base, json!({"registrantEmail": long}))
        )),
        ["configuration.registrantEmail"]
    );
}

#[test]
fn server_configuration_errors_are_all_reported_with_their_valid_values() {
    let errors = rejected(
        "cat_vps_micro",
        json!({"hostname": "node_01", "region": "mars-1", "image": "nvidia-ai-ubuntu", "billingTermMonths": 2, "backupsEnabled": "true"}),
    );
    assert_eq!(errors.len(), 5);
    assert!(message(&errors, "configuration.hostname").contains("hostname label"));
    assert_eq!(
        message(&errors, "configuration.region"),
        "must be one of us-east, us-west, eu-west, eu-central, ap-southeast"
    );
    assert_eq!(
        message(&errors, "configuration.image"),
        "must be one of ubuntu-24.04, debian-12"
    );
    assert_eq!(
        message(&errors, "configuration.billingTermMonths"),
        "must be one of 1, 3, 6, 12"
    );
    assert_eq!(
        message(&errors, "configuration.backupsEnabled"),
        "must be true or false"
    );
}

#[test]
fn hostnames_follow_rfc_1123_labels() {
    let base = valid_configuration("cat_vps_micro");
    for hostname in [
        "",
        "-node",
        "node-",
        "node.example",
        "node 01",
        &"a".repeat(64),
        "nöde",
    ] {
        let errors = rejected(
            "cat_vps_micro",
            with(base.clone(), json!({"hostname": hostname})),
        );
        assert_eq!(
            error_fields(&errors),
            ["configuration.hostname"],
            "{hostname:?}"
        );
    }
    assert!(
        quote(
            "cat_vps_micro",
            1,
            with(base, json!({"hostname": "a".repeat(63)}))
        )
        .is_ok()
    );
}

#[test]
fn storage_configuration_errors_are_all_reported() {
    let errors = rejected(
        "cat_storage_object_001",
        json!({"region": "moon", "storageClass": "block", "capacityGb": 5}),
    );
    assert_eq!(errors.len(), 3);
    assert_eq!(
        message(&errors, "configuration.storageClass"),
        "must be \"object\" for this item"
    );
    assert_eq!(
        message(&errors, "configuration.capacityGb"),
        "must be an integer between 10 and 10000"
    );
    let errors = rejected(
        "cat_storage_object_001",
        json!({"region": "us-east", "storageClass": "object"}),
    );
    assert_eq!(error_fields(&errors), ["configuration.capacityGb"]);
    let errors = rejected(
        "cat_storage_block_001",
        json!({"region": "us-east", "storageClass": "object", "capacityGb": 16001}),
    );
    assert_eq!(
        error_fields(&errors),
        ["configuration.capacityGb", "configuration.storageClass"]
    );
    assert_eq!(
        message(&errors, "configuration.capacityGb"),
        "must be an integer between 10 and 16000"
    );
    let errors = rejected(
        "cat_storage_block_001",
        json!({"region": "us-east", "storageClass": "block", "capacityGb": 100.5}),
    );
    assert_eq!(error_fields(&errors), ["configuration.capacityGb"]);
}

#[test]
fn phone_configuration_errors_are_all_reported() {
    let errors = rejected(
        "cat_phone_global_001",
        json!({"countryCode": "ZZ", "numberType": "satellite", "capabilities": [], "locality": "New York", "initialBalanceUsd": 500.01}),
    );
    assert_eq!(errors.len(), 5);
    assert!(message(&errors, "configuration.countryCode").contains("US, CA, GB"));
    assert_eq!(
        message(&errors, "configuration.numberType"),
        "must be one of local, mobile, toll_free"
    );
    assert!(message(&errors, "configuration.capabilities").contains("sms, voice, mms"));
    assert!(message(&errors, "configuration.locality").contains("slug"));
    assert_eq!(
        message(&errors, "configuration.initialBalanceUsd"),
        "must be between 0.00 and 500.00 US dollars"
    );
}

#[test]
fn phone_capabilities_must_be_a_subset_without_duplicates() {
    let base = valid_configuration("cat_phone_global_001");
    for capabilities in [
        json!(["sms", "sms"]),
        json!(["fax"]),
        json!([]),
        json!("sms"),
        json!(["sms", 1]),
    ] {
        let errors = rejected(
            "cat_phone_global_001",
            with(base.clone(), json!({"capabilities": capabilities})),
        );
        assert_eq!(
            error_fields(&errors),
            ["configuration.capabilities"],
            "{capabilities}"
        );
    }
}

#[test]
fn dollar_amounts_with_more_than_two_decimals_are_rejected() {
    let errors = rejected(
        "cat_phone_global_001",
        with(
            valid_configuration("cat_phone_global_001"),
            json!({"initialBalanceUsd": 10.001}),
        ),
    );
    assert!(message(&errors, "configuration.initialBalanceUsd").contains("2 decimal places"));
    let errors = rejected("cat_router_credit_001", json!({"creditAmountUsd": 25.555}));
    assert!(message(&errors, "configuration.creditAmountUsd").contains("2 decimal places"));
    let errors = rejected(
        "cat_phone_global_001",
        with(
            valid_configuration("cat_phone_global_001"),
            json!({"initialBalanceUsd": -1}),
        ),
    );
    assert_eq!(error_fields(&errors), ["configuration.initialBalanceUsd"]);
}

#[test]
fn router_credit_errors_are_all_reported() {
    let errors = rejected(
        "cat_router_credit_001",
        json!({"creditAmountUsd": 4.99, "topUpServiceId": "svc_nope"}),
    );
    assert_eq!(errors.len(), 2);
    assert_eq!(
        message(&errors, "configuration.creditAmountUsd"),
        "must be between 5.00 and 10000.00 US dollars"
    );
    assert!(message(&errors, "configuration.topUpServiceId").contains("svc_"));
    let errors = rejected(
        "cat_router_credit_001",
        json!({"creditAmountUsd": 10000.01, "topUpServiceId": new_id(IdKind::Purchase)}),
    );
    assert_eq!(
        error_fields(&errors),
        [
            "configuration.creditAmountUsd",
            "configuration.topUpServiceId"
        ]
    );
    let errors = rejected("cat_router_credit_001", json!({}));
    assert_eq!(error_fields(&errors), ["configuration.creditAmountUsd"]);
}

#[test]
fn router_credit_accepts_a_top_up_service_id() {
    let service = new_id(IdKind::Service);
    let q = quote(
        "cat_router_credit_001",
        1,
        json!({"creditAmountUsd": 10000, "topUpServiceId": service}),
    )
    .unwrap();
    assert_eq!(q.total_price_minor, 1_000_000);
    assert_eq!(q.configuration["topUpServiceId"], json!(service));
}
