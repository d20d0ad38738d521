//! Cursor pagination: `limit` 1..=100 (default 20) and an opaque cursor (the last id of the previous
//! page; ids sort by creation time, so pages are stable while new objects arrive).

use serde::Serialize;

use crate::{AppError, AppResult};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// A validated page request.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: i64,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Validate raw query values; the cursor must start with `prefix`.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>, prefix: &str) -> AppResult<Self> {
        let mut fields = agent_store_core::FieldErrors::new();
        let limit = match limit {
            None | Some("") => DEFAULT_LIMIT,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    fields.push("limit", "must be an integer from 1 to 100");
                    DEFAULT_LIMIT
                }
            },
        };
        let cursor = match cursor {
            None | Some("") => None,
            Some(c)
                if c.starts_with(prefix)
                    && c.len() <= 64
                    && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                Some(c.to_owned())
            }
            Some(_) => {
                fields.push("cursor", "is not a cursor returned by this list");
                None
            }
        };
        fields
            .finish(Self { limit, cursor })
            .map_err(AppError::validation)
    }

    pub fn first(limit: i64) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    /// Rows to fetch: one more than the page, to learn whether another page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }
}

/// A page of results: `{"items": [...], "nextCursor": "..." | null}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Build a page from `limit + 1` fetched rows, `id` giving each row's cursor.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        request: &PageRequest,
        id: impl Fn(&R) -> String,
        view: impl Fn(R) -> T,
    ) -> Self {
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(&id)
        } else {
            None
        };
        Self {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}
