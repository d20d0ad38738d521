//! Loading catalog files: the embedded default, and operator files with mistakes in them.

use serde_json::{Value, json};

use super::{catalog, item};
use crate::catalog::{Catalog, CatalogError, DEFAULT_CATALOG_JSON, ServerResources};

fn default_file() -> Value {
    serde_json::from_str(DEFAULT_CATALOG_JSON).unwrap()
}

/// The problems reported for `file`, which must be rejected as invalid (not unparseable).
fn problems(file: &Value) -> Vec<String> {
    match Catalog::from_json_str(&file.to_string()) {
        Err(CatalogError::Invalid { problems }) => problems,
        other => panic!("expected an invalid-catalog error, got {other:?}"),
    }
}

#[test]
fn the_default_catalog_loads_with_every_spec_item() {
    let loaded = Catalog::from_json_str(DEFAULT_CATALOG_JSON).unwrap();
    let ids: Vec<&str> = loaded.items().iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "cat_domain_com",
            "cat_domain_dev",
            "cat_domain_io",
            "cat_domain_ai",
            "cat_vps_micro",
            "cat_vps_small",
            "cat_vps_gpu_standard",
            "cat_storage_object_001",
            "cat_storage_block_001",
            "cat_phone_global_001",
            "cat_router_credit_001"
        ]
    );
    assert_eq!(catalog().items().len(), 11);
}

#[test]
fn default_items_carry_the_spec_skus_service_types_and_prices() {
    let expected = [
        ("cat_domain_com", "domain-com-registration", "domain", 1499),
        ("cat_domain_dev", "domain-dev-registration", "domain", 1299),
        ("cat_domain_io", "domain-io-registration", "domain", 3999),
        ("cat_domain_ai", "domain-ai-registration", "domain", 7999),
        ("cat_vps_micro", "vps-micro-monthly", "server", 2000),
        ("cat_vps_small", "vps-small-monthly", "server", 4000),
        ("cat_vps_gpu_standard", "vps-gpu-standard", "server", 99900),
        (
            "cat_storage_object_001",
            "storage-object-starter",
            "storage_service",
            2,
        ),
        (
            "cat_storage_block_001",
            "storage-block-100",
            "storage_service",
            10,
        ),
        (
            "cat_phone_global_001",
            "phone-global-rental",
            "phone_number",
            250,
        ),
        (
            "cat_router_credit_001",
            "llm-router-credit-balance",
            "llm_router",
            500,
        ),
    ];
    for (id, sku, service_type, price_from) in expected {
        let item = item(id);
        assert_eq!(
            (
                item.sku.as_str(),
                item.service_type(),
                item.price_from_minor()
            ),
            (sku, service_type, price_from),
            "{id}"
        );
    }
}

#[test]
fn storage_items_get_capabilities_by_storage_class() {
    assert_eq!(
        item("cat_storage_object_001").management_capabilities(),
        ["storage:bucket-credentials:create"]
    );
    assert_eq!(
        item("cat_storage_block_001").management_capabilities(),
        [
            "storage:volume:attach",
            "storage:volume:expand",
            "storage:snapshot:create",
            "storage:snapshot:restore"
        ]
    );
    assert_eq!(
        item("cat_router_credit_001").management_capabilities(),
        [
            "router:api-key:create",
            "router:api-key:list",
            "router:api-key:revoke",
            "router:usage:get"
        ]
    );
}

#[test]
fn an_operator_file_with_a_duplicate_id_is_rejected() {
    let mut file = default_file();
    file["items"][1]["id"] = json!("cat_domain_com");
    let problems = problems(&file);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("items[1]") && problems[0].contains("duplicate id"),
        "{problems:?}"
    );
}

#[test]
fn an_operator_file_with_an_unknown_category_is_rejected() {
    let mut file = default_file();
    file["items"][4]["category"] = json!("servers");
    let problems = problems(&file);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unknown category \"servers\"")),
        "{problems:?}"
    );
}

#[test]
fn an_operator_file_with_a_bad_price_is_rejected() {
    let mut file = default_file();
    file["items"][4]["parameters"]["pricePerMonthMinor"] = json!(0);
    file["items"][0]["parameters"]["pricePerYearMinor"] = json!(-5);
    let problems = problems(&file);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("cat_vps_micro") && p.contains("pricePerMonthMinor"))
    );
    let error = Catalog::from_json_str(&file.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("pricePerYearMinor: must be a price greater than 0"),
        "{error}"
    );
}

#[test]
fn an_operator_file_reports_every_problem_at_once() {
    let mut file = default_file();
    file["items"][0]["parameters"]["tld"] = json!("COM");
    file["items"][0]["parameters"]["minPeriodYears"] = json!(5);
    file["items"][0]["parameters"]["maxPeriodYears"] = json!(3);
    file["items"][4]["parameters"]["regions"] = json!([]);
    file["items"][4]["parameters"]["billingTermsMonths"] = json!([1, 1]);
    file["items"][7]["parameters"]["storageClass"] = json!("tape");
    file["items"][8]["category"] = json!("compute");
    file["items"][9]["parameters"]["countries"][0]["code"] = json!("XX");
    file["items"][10]["parameters"]["minCreditMinor"] = json!(0);
    file["items"][10]["sku"] = json!("Bad SKU");
    let problems = problems(&file);
    assert_eq!(problems.len(), 9, "{problems:#?}");
}

#[test]
fn an_operator_file_with_unknown_fields_or_service_types_is_rejected() {
    let mut file = default_file();
    file["items"][0]["parameters"]["colour"] = json!("blue");
    file["items"][1]["serviceType"] = json!("spaceship");
    let problems = problems(&file);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("unknown field `colour`"),
        "{problems:?}"
    );
    assert!(problems[1].contains("unknown service type"), "{problems:?}");
}

#[test]
fn a_file_that_is_not_a_catalog_is_rejected_with_the_reason() {
    let error = Catalog::from_json_str("{\"items\": [").unwrap_err();
    assert!(matches!(error, CatalogError::Parse(_)));
    let error = Catalog::from_json_str(r#"{"formatVersion": 1}"#).unwrap_err();
    assert!(
        error.to_string().contains("missing field `items`"),
        "{error}"
    );
    let problems = problems(&json!({"formatVersion": 2, "items": []}));
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn an_operator_catalog_with_its_own_items_and_prices_works() {
    let file = json!({"formatVersion": 1, "items": [{
        "id": "cat_vps_tiny", "sku": "vps-tiny", "name": "VPS Tiny", "category": "compute", "serviceType": "server",
        "description": "1 vCPU, 512 MB RAM", "parameters": {"pricePerMonthMinor": 999, "backupsPercent": 15,
        "regions": ["eu-north"], "images": ["alpine-3.20"], "billingTermsMonths": [1, 24],
        "vcpus": 1, "memoryMb": 512, "diskGb": 10}}]});
    let catalog = Catalog::from_json_str(&file.to_string()).unwrap();
    let item = catalog.item("cat_vps_tiny").unwrap();
    let configuration = json!({"hostname": "t", "region": "eu-north", "image": "alpine-3.20", "billingTermMonths": 24, "backupsEnabled": true});
    let quote = catalog.price(item, 1, Some(&configuration)).unwrap();
    // 999 * 24 = 23976; 15% = 3596.4 -> 3596.
    assert_eq!(quote.total_price_minor, 23976 + 3596);
    assert_eq!(catalog.categories()[0].item_count, 0);
    assert_eq!(
        catalog.checkout_requirements(item)["pricing"]["description"],
        "999 per month; backups add 15%"
    );
}

#[test]
fn server_items_state_the_machine_they_sell() {
    let resources = |id: &str| item(id).server_resources().unwrap();
    assert_eq!(
        resources("cat_vps_micro"),
        ServerResources {
            vcpus: 1,
            memory_mb: 1024,
            disk_gb: 25,
            gpu: None
        }
    );
    assert_eq!(
        (
            resources("cat_vps_small").vcpus,
            resources("cat_vps_small").memory_mb
        ),
        (2, 4096)
    );
    let gpu = resources("cat_vps_gpu_standard");
    assert_eq!((gpu.vcpus, gpu.memory_mb, gpu.disk_gb), (8, 32768, 200));
    assert_eq!(gpu.gpu.as_deref(), Some("1x NVIDIA L4"));
    assert_eq!(item("cat_domain_com").server_resources(), None);
    assert_eq!(item("cat_storage_block_001").server_resources(), None);
}

#[test]
fn an_operator_server_with_an_impossible_machine_is_rejected() {
    let mut file = default_file();
    let params = &mut file["items"][4]["parameters"];
    params["vcpus"] = json!(0);
    params["memoryMb"] = json!(64);
    params["diskGb"] = json!(1_000_000);
    params["gpu"] = json!(" ");
    let problems = problems(&file);
    assert_eq!(problems.len(), 4, "{problems:?}");
    for field in ["vcpus", "memoryMb", "diskGb", "gpu"] {
        assert!(
            problems
                .iter()
                .any(|p| p.contains("cat_vps_micro") && p.contains(&format!(".{field}:"))),
            "{field}: {problems:?}"
        );
    }
    let mut file = default_file();
    file["items"][5]["parameters"]
        .as_object_mut()
        .unwrap()
        .remove("memoryMb");
    let error = Catalog::from_json_str(&file.to_string())
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing field `memoryMb`"), "{error}");
}
