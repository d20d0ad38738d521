//! Checkout requirements and the generated JSON Schema: the schema must accept what the validator accepts
//! and reject what it rejects, for every item.

use serde_json::{Value, json};

use super::{catalog, item, quote, valid_configuration};
use crate::ids::{IdKind, new_id};

fn validator(id: &str) -> jsonschema::Validator {
    let schema = item(id).configuration_schema();
    assert!(
        jsonschema::meta::is_valid(&schema),
        "{id}: schema is not valid JSON Schema"
    );
    jsonschema::validator_for(&schema).unwrap()
}

fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut out = base.clone();
    out[key] = value;
    out
}

fn without(base: &Value, key: &str) -> Value {
    let mut out = base.clone();
    out.as_object_mut().unwrap().remove(key);
    out
}

/// Values each field must not take, chosen so both the validator and the schema can tell.
fn bad_values(field: &str) -> Vec<Value> {
    match field {
        "domainName" => vec![
            json!("www.launchpad.com"),
            json!("launchpad.org"),
            json!("-x.com"),
            json!("a b.com"),
        ],
        "periodYears" => vec![json!(0), json!(11), json!("1")],
        "registrantEmail" => vec![
            json!("ops"),
            json!("ops@example"),
            json!("a@b@c.com"),
            json!("o ps@example.com"),
        ],
        "registrantCountry" => vec![json!("XX"), json!("USA"), json!(1)],
        "autoRenew" | "privacyProtection" | "backupsEnabled" => {
            vec![json!("true"), json!(1), json!(null)]
        }
        "hostname" => vec![
            json!("-node"),
            json!("node.example"),
            json!(""),
            json!("a".repeat(64)),
        ],
        "region" => vec![json!("mars"), json!("US-EAST")],
        "image" => vec![json!("windows-11"), json!(null)],
        "billingTermMonths" => vec![json!(2), json!(24), json!("1")],
        "storageClass" => vec![json!("file"), json!(null)],
        "capacityGb" => vec![json!(9), json!(16001), json!(100.5), json!("100")],
        "countryCode" => vec![json!("ZZ"), json!("DK")],
        "numberType" => vec![json!("fax"), json!("toll-free")],
        "capabilities" => vec![
            json!([]),
            json!(["sms", "sms"]),
            json!(["fax"]),
            json!("sms"),
        ],
        "locality" => vec![
            json!("new york"),
            json!("-york"),
            json!("a".repeat(65)),
            json!(5),
        ],
        "initialBalanceUsd" => vec![json!(-1), json!(500.5), json!("10")],
        "creditAmountUsd" => vec![json!(4.99), json!(10000.01), json!(null), json!("25")],
        "topUpServiceId" => vec![json!("svc_123"), json!(new_id(IdKind::Purchase)), json!(7)],
        other => panic!("no bad values written for {other}"),
    }
}

#[test]
fn every_generated_schema_accepts_valid_and_normalized_configurations() {
    let catalog = catalog();
    for item in catalog.items() {
        let schema = validator(&item.id);
        let valid = valid_configuration(&item.id);
        assert!(schema.is_valid(&valid), "{}: {valid}", item.id);
        let normalized = quote(&item.id, 1, valid).unwrap().configuration;
        assert!(
            schema.is_valid(&normalized),
            "{}: normalized {normalized}",
            item.id
        );
    }
}

#[test]
fn every_generated_schema_rejects_what_the_validator_rejects() {
    let catalog = catalog();
    for item in catalog.items() {
        let schema = validator(&item.id);
        let valid = valid_configuration(&item.id);
        let mut invalid = vec![
            with(&valid, "unexpected", json!(1)),
            json!([]),
            json!("configuration"),
        ];
        let requirements = catalog.checkout_requirements(item);
        for field in requirements["requiredFields"].as_array().unwrap() {
            invalid.push(without(&valid, field.as_str().unwrap()));
        }
        for field in requirements["configurationSchema"]["properties"]
            .as_object()
            .unwrap()
            .keys()
        {
            for bad in bad_values(field) {
                invalid.push(with(&valid, field, bad));
            }
        }
        for configuration in invalid {
            assert!(
                !schema.is_valid(&configuration),
                "{}: schema accepted {configuration}",
                item.id
            );
            assert!(
                quote(&item.id, 1, configuration.clone()).is_err(),
                "{}: validator accepted {configuration}",
                item.id
            );
        }
    }
}

#[test]
fn schema_patterns_agree_with_the_validator_on_names_and_emails() {
    let com = validator("cat_domain_com");
    let vps = validator("cat_vps_micro");
    let phone = validator("cat_phone_global_001");
    let domains = [
        "a.com",
        "launch-pad.com",
        "xn--bcher-kva.com",
        "LaunchPad.COM",
        "a-.com",
        "launchpad.com.",
        "launchpad.co",
        "é.com",
    ];
    let emails = [
        "ops@example.com",
        "o.p+s@mail.example.co.uk",
        "ops@.com",
        "ops@example.",
        "@example.com",
        "ops@exa mple.com",
    ];
    let hostnames = ["web-01", "WEB01", "0", "web--01", "web_01", "-web"];
    let localities = [
        "new-york",
        "NYC",
        "sao-paulo-2",
        "new--york",
        "new_york",
        "york-",
    ];
    let base = valid_configuration("cat_domain_com");
    for name in domains {
        let c = with(&base, "domainName", json!(name));
        assert_eq!(
            com.is_valid(&c),
            quote("cat_domain_com", 1, c.clone()).is_ok(),
            "domain {name}"
        );
    }
    for email in emails {
        let c = with(&base, "registrantEmail", json!(email));
        assert_eq!(
            com.is_valid(&c),
            quote("cat_domain_com", 1, c.clone()).is_ok(),
            "email {email}"
        );
    }
    let base = valid_configuration("cat_vps_micro");
    for hostname in hostnames {
        let c = with(&base, "hostname", json!(hostname));
        assert_eq!(
            vps.is_valid(&c),
            quote("cat_vps_micro", 1, c.clone()).is_ok(),
            "hostname {hostname}"
        );
    }
    let base = valid_configuration("cat_phone_global_001");
    for locality in localities {
        let c = with(&base, "locality", json!(locality));
        assert_eq!(
            phone.is_valid(&c),
            quote("cat_phone_global_001", 1, c.clone()).is_ok(),
            "locality {locality}"
        );
    }
}

#[test]
fn vps_checkout_requirements_match_the_spec_example() {
    let catalog = catalog();
    let requirements = catalog.checkout_requirements(catalog.item("cat_vps_gpu_standard").unwrap());
    assert_eq!(requirements["catalogItemId"], "cat_vps_gpu_standard");
    assert_eq!(requirements["checkoutKind"], "custom");
    assert_eq!(requirements["serviceType"], "server");
    assert_eq!(
        requirements["requiredFields"],
        json!(["hostname", "region", "image", "billingTermMonths"])
    );
    assert_eq!(requirements["optionalFields"], json!(["backupsEnabled"]));
    assert_eq!(
        requirements["supportedImages"],
        json!(["ubuntu-24.04", "debian-12", "nvidia-ai-ubuntu"])
    );
    assert_eq!(
        requirements["supportedRegions"],
        json!([
            "us-east",
            "us-west",
            "eu-west",
            "eu-central",
            "ap-southeast"
        ])
    );
    assert_eq!(
        requirements["managementCapabilities"],
        json!(["server:restart", "server:reinstall", "server:power"])
    );
    assert_eq!(
        requirements["pricing"]["description"],
        "99900 per month; backups add 20%"
    );
    let schema = &requirements["configurationSchema"];
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        schema["properties"]["billingTermMonths"]["enum"],
        json!([1, 3, 6, 12])
    );
    let micro = catalog.checkout_requirements(catalog.item("cat_vps_micro").unwrap());
    assert_eq!(
        micro["pricing"]["description"],
        "2000 per month; backups add 20%"
    );
    assert_eq!(
        micro["supportedImages"],
        json!(["ubuntu-24.04", "debian-12"])
    );
    assert_eq!(
        micro["resources"],
        json!({"vcpus": 1, "memoryMb": 1024, "diskGb": 25, "gpu": null})
    );
    assert_eq!(
        requirements["resources"],
        json!({"vcpus": 8, "memoryMb": 32768, "diskGb": 200, "gpu": "1x NVIDIA L4"})
    );
}

#[test]
fn other_checkout_requirements_carry_their_type_specific_extras() {
    let catalog = catalog();
    let requirements = |id: &str| catalog.checkout_requirements(catalog.item(id).unwrap());
    let ai = requirements("cat_domain_ai");
    assert_eq!(
        (
            ai["tld"].clone(),
            ai["minPeriodYears"].clone(),
            ai["maxPeriodYears"].clone()
        ),
        (json!("ai"), json!(2), json!(10))
    );
    assert_eq!(
        ai["optionalFields"],
        json!(["autoRenew", "privacyProtection"])
    );
    let block = requirements("cat_storage_block_001");
    assert_eq!(block["storageClass"], "block");
    assert_eq!(block["requiredFields"], json!(["region", "storageClass"]));
    assert_eq!(block["optionalFields"], json!(["capacityGb"]));
    assert_eq!(
        block["configurationSchema"]["properties"]["capacityGb"]["default"],
        100
    );
    assert_eq!(
        requirements("cat_storage_object_001")["requiredFields"],
        json!(["region", "storageClass", "capacityGb"])
    );
    let phone = requirements("cat_phone_global_001");
    assert_eq!(
        phone["supportedCountries"][0],
        json!({"code": "US", "name": "United States",
        "monthlyRentalMinor": {"local": 250, "mobile": 300, "toll_free": 400}})
    );
    assert_eq!(phone["supportedCountries"].as_array().unwrap().len(), 10);
    let router = requirements("cat_router_credit_001");
    assert_eq!(router["requiredFields"], json!(["creditAmountUsd"]));
    assert_eq!(router["quantity"], json!({"min": 1, "max": 1}));
    assert_eq!(
        router["configurationSchema"]["properties"]["creditAmountUsd"]["minimum"],
        5
    );
}

#[test]
fn the_embedded_country_list_is_sorted_complete_and_well_formed() {
    use crate::catalog::countries::ISO_3166_ALPHA2;
    assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
    assert!(
        ISO_3166_ALPHA2
            .iter()
            .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
    );
    for code in ["US", "GB", "DE", "AI", "IO", "SS", "XK"] {
        assert_eq!(
            crate::catalog::countries::is_iso_country(code),
            code != "XK",
            "{code}"
        );
    }
}
