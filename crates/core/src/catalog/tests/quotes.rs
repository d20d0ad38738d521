//! Pricing: the reference totals of SPEC section 14, every default item, normalization and quantity.

use serde_json::json;

use super::{catalog, error_fields, item, quote, valid_configuration};
use crate::catalog::QuoteLine;

fn line(description: &str, amount_minor: i64) -> QuoteLine {
    QuoteLine {
        description: description.to_owned(),
        amount_minor,
    }
}

#[test]
fn com_domain_for_one_year_costs_1499() {
    let q = quote("cat_domain_com", 1, valid_configuration("cat_domain_com")).unwrap();
    assert_eq!(q.total_price_minor, 1499);
    assert_eq!(q.unit_price_minor, 1499);
    assert_eq!(q.display_name, "launchpad.com (1 year)");
    assert_eq!(q.domain_name.as_deref(), Some("launchpad.com"));
    assert_eq!(
        q.management_capabilities,
        [
            "domain:nameservers:set",
            "domain:dns-records:read",
            "domain:dns-records:write"
        ]
    );
}

#[test]
fn vps_micro_with_backups_costs_2400() {
    let q = quote("cat_vps_micro", 1, valid_configuration("cat_vps_micro")).unwrap();
    assert_eq!(q.total_price_minor, 2400);
    assert_eq!(q.display_name, "VPS Micro (eu-west, 1 month, backups)");
    assert_eq!(
        q.lines,
        vec![line("VPS Micro x 1 month", 2000), line("Backups", 400)]
    );
    assert_eq!(
        q.management_capabilities,
        ["server:restart", "server:reinstall", "server:power"]
    );
    assert_eq!(q.domain_name, None);
}

#[test]
fn object_storage_of_250_gb_costs_500() {
    let q = quote(
        "cat_storage_object_001",
        1,
        valid_configuration("cat_storage_object_001"),
    )
    .unwrap();
    assert_eq!(q.total_price_minor, 500);
    assert_eq!(q.display_name, "Object Storage Starter (us-east, 250 GB)");
    assert_eq!(
        q.lines,
        vec![line("Object Storage Starter 250 GB x 1 month", 500)]
    );
    assert_eq!(
        q.management_capabilities,
        ["storage:bucket-credentials:create"]
    );
}

#[test]
fn us_local_number_with_10_dollars_balance_costs_1250() {
    let q = quote(
        "cat_phone_global_001",
        1,
        valid_configuration("cat_phone_global_001"),
    )
    .unwrap();
    assert_eq!(q.total_price_minor, 1250);
    assert_eq!(
        q.lines.iter().map(|l| l.amount_minor).collect::<Vec<_>>(),
        [250, 1000]
    );
    assert_eq!(q.management_capabilities.len(), 4);
}

#[test]
fn router_credit_of_25_dollars_costs_2500() {
    let q = quote(
        "cat_router_credit_001",
        1,
        valid_configuration("cat_router_credit_001"),
    )
    .unwrap();
    assert_eq!(q.total_price_minor, 2500);
    assert_eq!(q.display_name, "LLM Router Credits (25.00 USD)");
    assert_eq!(q.configuration["topUpServiceId"], json!(null));
}

#[test]
fn every_default_item_prices_a_valid_configuration_with_lines_summing_to_the_total() {
    for item in catalog().items() {
        let q = quote(&item.id, 1, valid_configuration(&item.id))
            .unwrap_or_else(|e| panic!("{}: {e:?}", item.id));
        assert!(q.total_price_minor > 0, "{}", item.id);
        assert_eq!(
            q.lines.iter().map(|l| l.amount_minor).sum::<i64>(),
            q.total_price_minor,
            "{}",
            item.id
        );
        assert_eq!(q.management_capabilities, item.management_capabilities());
        assert!(!q.display_name.is_empty());
    }
}

#[test]
fn other_items_price_by_their_own_parameters() {
    let total = |id: &str| {
        quote(id, 1, valid_configuration(id))
            .unwrap()
            .total_price_minor
    };
    assert_eq!(total("cat_domain_dev"), 3 * 1299);
    assert_eq!(total("cat_domain_io"), 3999);
    assert_eq!(total("cat_domain_ai"), 2 * 7999);
    assert_eq!(total("cat_vps_small"), 4800);
    assert_eq!(total("cat_vps_gpu_standard"), 3 * 99900);
    assert_eq!(total("cat_storage_block_001"), 1000);
}

#[test]
fn backups_percentage_rounds_half_up() {
    use crate::catalog::offer::percent_of;
    assert_eq!(percent_of(2000, 20), Some(400));
    assert_eq!(percent_of(1299, 20), Some(260)); // 259.8
    assert_eq!(percent_of(1298, 25), Some(325)); // 324.5
    assert_eq!(percent_of(1, 20), Some(0)); // 0.2
}

#[test]
fn configuration_is_normalized_with_defaults_filled_in() {
    let q = quote(
        "cat_domain_com",
        1,
        json!({"domainName": "LaunchPad.COM", "periodYears": 2, "registrantEmail": "Ops@Example.COM", "registrantCountry": "us"}),
    )
    .unwrap();
    assert_eq!(
        q.configuration,
        json!({"domainName": "launchpad.com", "periodYears": 2, "registrantEmail": "Ops@example.com",
            "registrantCountry": "US", "autoRenew": false, "privacyProtection": true})
    );
    assert_eq!(q.display_name, "launchpad.com (2 years)");

    let q = quote("cat_vps_micro", 1, json!({"hostname": "Web-01", "region": "us-east", "image": "debian-12", "billingTermMonths": 12}))
        .unwrap();
    assert_eq!(q.configuration["hostname"], "web-01");
    assert_eq!(q.configuration["backupsEnabled"], false);
    assert_eq!(q.display_name, "VPS Micro (us-east, 12 months)");
    assert_eq!(q.total_price_minor, 24000);

    let q = quote(
        "cat_storage_block_001",
        1,
        valid_configuration("cat_storage_block_001"),
    )
    .unwrap();
    assert_eq!(q.configuration["capacityGb"], 100);

    let q = quote(
        "cat_phone_global_001",
        1,
        json!({"countryCode": "gb", "numberType": "toll_free", "capabilities": ["voice", "sms"]}),
    )
    .unwrap();
    assert_eq!(q.configuration["locality"], json!(null));
    assert_eq!(q.configuration["initialBalanceUsd"], json!(0));
    assert_eq!(q.configuration["capabilities"], json!(["sms", "voice"]));
    assert_eq!(q.configuration["countryCode"], "GB");
    assert_eq!(q.total_price_minor, 1500);

    let q = quote("cat_router_credit_001", 1, json!({"creditAmountUsd": 12.5})).unwrap();
    assert_eq!(q.total_price_minor, 1250);
    assert_eq!(q.configuration["creditAmountUsd"], json!(12.5));
}

#[test]
fn quantity_multiplies_the_unit_price_and_every_line() {
    let q = quote("cat_vps_micro", 3, valid_configuration("cat_vps_micro")).unwrap();
    assert_eq!(q.unit_price_minor, 2400);
    assert_eq!(q.total_price_minor, 7200);
    assert_eq!(
        q.lines.iter().map(|l| l.amount_minor).collect::<Vec<_>>(),
        [6000, 1200]
    );
    assert!(
        quote(
            "cat_storage_object_001",
            10,
            valid_configuration("cat_storage_object_001")
        )
        .is_ok()
    );
}

#[test]
fn quantity_must_be_between_1_and_10() {
    for bad in [0, -1, 11, i64::MAX] {
        let errors = quote("cat_vps_micro", bad, valid_configuration("cat_vps_micro")).unwrap_err();
        assert_eq!(error_fields(&errors), ["quantity"], "quantity {bad}");
        assert!(errors[0].message.contains("between 1 and 10"));
    }
}

#[test]
fn domains_and_router_credit_are_bought_one_at_a_time() {
    for id in ["cat_domain_com", "cat_router_credit_001"] {
        let errors = quote(id, 2, valid_configuration(id)).unwrap_err();
        assert_eq!(error_fields(&errors), ["quantity"], "{id}");
        assert!(
            errors[0].message.contains("must be 1"),
            "{}",
            errors[0].message
        );
    }
}

#[test]
fn quantity_and_configuration_errors_are_reported_together() {
    let errors = quote("cat_domain_com", 5, json!({"domainName": "x.org"})).unwrap_err();
    assert_eq!(
        error_fields(&errors),
        [
            "configuration.domainName",
            "configuration.periodYears",
            "configuration.registrantCountry",
            "configuration.registrantEmail",
            "quantity"
        ]
    );
}

#[test]
fn item_summary_has_the_api_shape() {
    let summary = item("cat_vps_micro").summary();
    assert_eq!(
        summary,
        json!({"id": "cat_vps_micro", "sku": "vps-micro-monthly", "name": "VPS Micro", "category": "compute",
            "checkoutKind": "custom", "serviceType": "server", "description": "1 vCPU, 1 GB RAM, 25 GB SSD",
            "priceFromMinor": 2000, "currency": "usd", "pricingUnit": "month"})
    );
    assert_eq!(
        serde_json::to_value(item("cat_vps_micro")).unwrap(),
        summary
    );
    assert_eq!(
        item("cat_storage_object_001").summary()["pricingUnit"],
        "gb_month"
    );
    assert_eq!(
        item("cat_router_credit_001").summary()["pricingUnit"],
        "one_time"
    );
}
