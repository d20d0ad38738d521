//! Catalog use cases: categories, search with pagination, checkout requirements.

use agent_store_core::catalog::CategorySummary;
use serde_json::Value;

use crate::pagination::{Page, PageRequest};
use crate::{App, AppError, AppResult};

/// Longest accepted search text.
const MAX_QUERY_LEN: usize = 200;

impl App {
    pub fn catalog_categories(&self) -> Vec<CategorySummary> {
        self.catalog().categories()
    }

    /// Search items in ranked order. The cursor is the id of the last item of the previous page.
    pub fn catalog_search(
        &self,
        category: Option<&str>,
        q: Option<&str>,
        page: &PageRequest,
    ) -> AppResult<Page<Value>> {
        let category = category.filter(|c| !c.is_empty());
        if let Some(c) = category {
            let known = self.catalog().categories();
            if !known.iter().any(|k| k.id == c) {
                let names: Vec<&str> = known.iter().map(|k| k.id.as_str()).collect();
                return Err(AppError::invalid_field(
                    "category",
                    &format!("must be one of {}", names.join(", ")),
                ));
            }
        }
        if q.is_some_and(|q| q.chars().count() > MAX_QUERY_LEN) {
            return Err(AppError::invalid_field(
                "q",
                "must be at most 200 characters",
            ));
        }
        let ranked = self
            .catalog()
            .search(category, q.filter(|q| !q.trim().is_empty()));
        let start = match &page.cursor {
            None => 0,
            Some(cursor) => match ranked.iter().position(|item| &item.id == cursor) {
                Some(pos) => pos + 1,
                None => {
                    return Err(AppError::invalid_field(
                        "cursor",
                        "is not a cursor returned by this search",
                    ));
                }
            },
        };
        let rows: Vec<_> = ranked
            .into_iter()
            .skip(start)
            .take(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX))
            .collect();
        Ok(Page::from_rows(
            rows,
            page,
            |item| item.id.clone(),
            |item| item.summary(),
        ))
    }

    pub fn catalog_checkout_requirements(&self, catalog_item_id: &str) -> AppResult<Value> {
        let item = self
            .catalog()
            .item(catalog_item_id)
            .ok_or(AppError::NotFound("catalog item"))?;
        Ok(self.catalog().checkout_requirements(item))
    }
}
