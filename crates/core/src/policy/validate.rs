//! Validation of one policy document before it is stored: ranges, known categories, catalog id shape and
//! known capability strings. Every problem is reported at once, each with its field path.

use super::{CAPABILITIES, Policy};
use crate::catalog::CATEGORIES;
use crate::fields::{FieldError, FieldErrors};

/// Largest money limit accepted (100 billion dollars): far above any real budget, far below `i64`
/// overflow even when summed with a month of spend.
pub const MAX_LIMIT_MINOR: i64 = 10_000_000_000_000;

/// Largest `maxPurchasesPerHour` accepted.
pub const MAX_PURCHASES_PER_HOUR: i64 = 100_000;

/// Longest list accepted in any list field; keeps evaluation cheap and documents bounded.
pub const MAX_LIST_LEN: usize = 100;

impl Policy {
    /// Checks the document, returning every invalid field (paths such as
    /// `categoryRules.compute.maxPurchaseMinor` or `allowedActions[2]`).
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        for (name, value) in self.amount_fields() {
            check_amount(&mut errors, name, value);
        }
        if let Some(list) = &self.allowed_categories {
            check_list(&mut errors, "allowedCategories", list, category_problem);
        }
        check_list(
            &mut errors,
            "blockedCategories",
            &self.blocked_categories,
            category_problem,
        );
        if let Some(list) = &self.allowed_catalog_item_ids {
            check_list(&mut errors, "allowedCatalogItemIds", list, item_problem);
        }
        check_list(
            &mut errors,
            "blockedCatalogItemIds",
            &self.blocked_catalog_item_ids,
            item_problem,
        );
        check_list(
            &mut errors,
            "approvalRequiredCategories",
            &self.approval_required_categories,
            category_problem,
        );
        if let Some(list) = &self.allowed_actions {
            check_list(&mut errors, "allowedActions", list, action_problem);
        }
        if let Some(n) = self.max_purchases_per_hour
            && !(0..=MAX_PURCHASES_PER_HOUR).contains(&n)
        {
            errors.push(
                "maxPurchasesPerHour",
                format!("must be between 0 and {MAX_PURCHASES_PER_HOUR}"),
            );
        }
        for (category, rule) in &self.category_rules {
            let path = format!("categoryRules.{category}");
            if let Some(problem) = category_problem(category) {
                errors.push(path.clone(), problem);
            }
            for (name, value) in rule.amount_fields() {
                check_amount(&mut errors, &format!("{path}.{name}"), value);
            }
        }
        errors.finish(())
    }
}

fn check_amount(errors: &mut FieldErrors, field: &str, value: Option<i64>) {
    match value {
        Some(v) if v < 0 => errors.push(field, "must be at least 0"),
        Some(v) if v > MAX_LIMIT_MINOR => {
            errors.push(field, format!("must be at most {MAX_LIMIT_MINOR}"));
        }
        _ => {}
    }
}

/// Reports an over-long list once (rather than every entry of it), else each bad entry by index.
fn check_list(
    errors: &mut FieldErrors,
    field: &str,
    list: &[String],
    problem: fn(&str) -> Option<String>,
) {
    if list.len() > MAX_LIST_LEN {
        errors.push(field, format!("must have at most {MAX_LIST_LEN} entries"));
        return;
    }
    for (index, entry) in list.iter().enumerate() {
        if let Some(message) = problem(entry) {
            errors.push(format!("{field}[{index}]"), message);
        }
    }
}

fn category_problem(value: &str) -> Option<String> {
    if CATEGORIES.iter().any(|(id, _)| *id == value) {
        return None;
    }
    let known: Vec<&str> = CATEGORIES.iter().map(|(id, _)| *id).collect();
    Some(format!(
        "unknown category; expected one of {}",
        known.join(", ")
    ))
}

fn item_problem(value: &str) -> Option<String> {
    match value.strip_prefix("cat_") {
        Some(rest) if !rest.is_empty() => None,
        _ => Some("must be a catalog item id starting with `cat_`".to_owned()),
    }
}

fn action_problem(value: &str) -> Option<String> {
    if CAPABILITIES.contains(&value) {
        None
    } else {
        Some("unknown capability; expected a capability string such as `server:restart`".to_owned())
    }
}
