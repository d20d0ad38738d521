//! Search and categories: the reference flows of SPEC section 14.

use super::catalog;

fn ids(category: Option<&str>, q: Option<&str>) -> Vec<String> {
    catalog()
        .search(category, q)
        .into_iter()
        .map(|item| item.id.clone())
        .collect()
}

#[test]
fn domains_search_for_com_puts_the_com_item_first() {
    assert_eq!(
        ids(Some("domains"), Some("com"))
            .first()
            .map(String::as_str),
        Some("cat_domain_com")
    );
}

#[test]
fn compute_search_for_vps_finds_exactly_the_three_servers() {
    assert_eq!(
        ids(Some("compute"), Some("vps")),
        ["cat_vps_micro", "cat_vps_small", "cat_vps_gpu_standard"]
    );
}

#[test]
fn storage_search_for_object_ranks_object_storage_before_block_storage() {
    assert_eq!(
        ids(Some("storage"), Some("object")),
        ["cat_storage_object_001", "cat_storage_block_001"]
    );
}

#[test]
fn telephony_search_for_phone_number_finds_the_phone_item() {
    assert_eq!(
        ids(Some("telephony"), Some("phone number")),
        ["cat_phone_global_001"]
    );
}

#[test]
fn api_tokens_search_for_router_credits_finds_the_router_item() {
    assert_eq!(
        ids(Some("api_tokens"), Some("router credits"))
            .first()
            .map(String::as_str),
        Some("cat_router_credit_001")
    );
}

#[test]
fn search_is_case_insensitive_requires_every_word_and_matches_word_prefixes() {
    assert_eq!(ids(None, Some("GPU")), ["cat_vps_gpu_standard"]);
    assert_eq!(ids(None, Some("vps nvidia")), ["cat_vps_gpu_standard"]);
    assert_eq!(ids(None, Some("vps banana")), Vec::<String>::new());
    assert_eq!(ids(None, Some("stor")).len(), 2);
    assert_eq!(ids(None, Some(".ai")), ["cat_domain_ai"]);
}

#[test]
fn an_empty_query_lists_the_category_in_catalog_order() {
    assert_eq!(
        ids(Some("domains"), None),
        [
            "cat_domain_com",
            "cat_domain_dev",
            "cat_domain_io",
            "cat_domain_ai"
        ]
    );
    assert_eq!(ids(Some("domains"), Some("  ")).len(), 4);
    assert_eq!(ids(None, None).len(), catalog().items().len());
}

#[test]
fn an_unknown_category_finds_nothing() {
    assert!(ids(Some("groceries"), None).is_empty());
    assert!(ids(Some("Domains"), Some("com")).is_empty());
}

#[test]
fn categories_are_listed_in_order_with_item_counts() {
    let categories = serde_json::to_value(catalog().categories()).unwrap();
    assert_eq!(
        categories,
        serde_json::json!([
            {"id": "domains", "name": "Domains", "itemCount": 4},
            {"id": "compute", "name": "Compute", "itemCount": 3},
            {"id": "storage", "name": "Storage", "itemCount": 2},
            {"id": "telephony", "name": "Telephony", "itemCount": 1},
            {"id": "api_tokens", "name": "API Tokens", "itemCount": 1},
        ])
    );
}
