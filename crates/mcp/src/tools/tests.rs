//! The table's own rules: names, schemas, enums in step with the app, requests built from arguments.

use serde_json::json;

use super::*;

fn enum_values(tool: &str, field: &str) -> Vec<String> {
    let schema = &find(tool).unwrap().tool.input_schema;
    schema["properties"][field]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{tool}.{field} has no enum: {schema:?}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_table_has_every_tool_of_the_money_path_once() {
    let names: Vec<&str> = table().iter().map(|t| t.tool.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "catalog_categories",
            "catalog_search",
            "catalog_checkout_requirements",
            "quote_create",
            "purchase_create",
            "purchase_get_status",
            "purchase_list",
            "purchase_cancel",
            "wallet_get",
            "policy_get_effective",
            "service_list",
            "service_get",
            "router_api_key_create",
            "router_api_key_list",
            "router_api_key_revoke",
            "router_usage_get",
            "domain_nameservers_set",
            "domain_dns_record_list",
            "domain_dns_record_upsert",
            "domain_dns_record_delete",
            "server_restart",
            "server_reinstall",
            "server_power",
            "phone_balance_topup",
            "phone_message_list",
            "phone_message_get",
            "phone_missed_call_list",
            "phone_call_log_get",
            "storage_bucket_credentials_create",
            "storage_volume_attach",
            "storage_volume_detach",
            "storage_volume_expand",
            "storage_snapshot_create",
            "storage_snapshot_list",
            "storage_snapshot_restore",
        ]
    );
}

#[test]
fn every_input_schema_is_a_closed_object_without_refs() {
    for spec in table() {
        let schema = serde_json::to_string(&spec.tool.input_schema).unwrap();
        assert_eq!(spec.tool.input_schema["type"], "object", "{schema}");
        assert_eq!(
            spec.tool.input_schema["additionalProperties"], false,
            "{schema}"
        );
        assert!(
            !schema.contains("$ref") && !schema.contains("null"),
            "{schema}"
        );
        assert!(spec.tool.description.as_ref().is_some_and(|d| d.len() > 80));
        assert!(spec.tool.annotations.is_some());
    }
}

#[test]
fn enums_in_schemas_match_the_catalog_and_the_app() {
    let categories: Vec<String> = agent_store_core::catalog::CATEGORIES
        .iter()
        .map(|(id, _)| (*id).to_owned())
        .collect();
    assert_eq!(enum_values("catalog_search", "category"), categories);
    assert_eq!(
        enum_values("purchase_list", "status"),
        agent_store_app::purchases::PURCHASE_STATUSES
    );
    assert_eq!(
        enum_values("service_list", "serviceType"),
        agent_store_app::services::SERVICE_TYPES
    );
    assert_eq!(
        enum_values("service_list", "status"),
        agent_store_app::services::SERVICE_STATUSES
    );
}

#[test]
fn purchase_create_requires_an_idempotency_key_and_sends_the_arguments_as_the_body() {
    let spec = find("purchase_create").unwrap();
    assert_eq!(
        spec.tool.input_schema["required"],
        json!(["idempotencyKey"])
    );
    assert!(spec.request(json!({"quoteId": "quote_1"})).is_err());
    let request = spec
        .request(json!({"quoteId": "quote_1", "idempotencyKey": "k1"}))
        .unwrap();
    assert_eq!(request.path_and_query(), "/purchases");
    assert_eq!(
        request.body,
        Some(json!({"quoteId": "quote_1", "idempotencyKey": "k1"}))
    );
}

#[test]
fn arguments_outside_the_schema_are_refused() {
    let search = find("catalog_search").unwrap();
    assert!(search.request(json!({"colour": "red"})).is_err());
    assert!(search.request(json!({"category": "boats"})).is_err());
    assert!(search.request(json!({"limit": "ten"})).is_err());
    let request = search
        .request(json!({"category": "compute", "q": "vps", "limit": 3}))
        .unwrap();
    assert_eq!(
        request.path_and_query(),
        "/catalog/items?category=compute&q=vps&limit=3"
    );
    assert!(find("wallet_get").unwrap().request(json!({})).is_ok());
    assert!(
        find("wallet_get")
            .unwrap()
            .request(json!({"x": 1}))
            .is_err()
    );
}

#[test]
fn cancel_without_a_key_sends_an_empty_object() {
    let cancel = find("purchase_cancel").unwrap();
    let request = cancel.request(json!({"purchaseId": "pur_1"})).unwrap();
    assert_eq!(request.path_and_query(), "/purchases/pur_1/cancel");
    assert_eq!(request.body, Some(json!({})));
}

#[test]
fn read_tools_are_marked_read_only_and_buying_is_not() {
    let hints = |name: &str| find(name).unwrap().tool.annotations.clone().unwrap();
    for name in [
        "catalog_search",
        "purchase_get_status",
        "wallet_get",
        "service_get",
    ] {
        assert_eq!(hints(name).read_only_hint, Some(true), "{name}");
    }
    let buy = hints("purchase_create");
    assert_eq!(buy.read_only_hint, Some(false));
    assert_eq!(buy.idempotent_hint, Some(true));
    assert_eq!(buy.open_world_hint, Some(true));
    assert_eq!(hints("purchase_cancel").destructive_hint, Some(true));
}
