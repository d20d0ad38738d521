//! Catalog search (SPEC section 4): every query word must match, case-insensitively, as a prefix of some
//! word of the item's name, sku, description or category; items matching more words in their name rank
//! first, ties keep catalog order. Prefix matching lets `vps` find "VPS" and `credit` find "Credits".

use super::CatalogItem;

/// Lowercase alphanumeric words of `text` (`"storage-object-starter"` -> storage, object, starter).
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn matches(word: &str, tokens: &[String]) -> bool {
    tokens.iter().any(|t| t.starts_with(word))
}

pub(super) fn search<'a>(
    items: &'a [CatalogItem],
    category: Option<&str>,
    q: Option<&str>,
) -> Vec<&'a CatalogItem> {
    let words = q.map(tokens).unwrap_or_default();
    let mut ranked: Vec<(usize, &CatalogItem)> = items
        .iter()
        .filter(|item| category.is_none_or(|c| item.category == c))
        .filter_map(|item| {
            let name = tokens(&item.name);
            let mut other = tokens(&item.sku);
            other.extend(tokens(&item.description));
            other.extend(tokens(&item.category));
            let mut name_hits = 0;
            for word in &words {
                if matches(word, &name) {
                    name_hits += 1;
                } else if !matches(word, &other) {
                    return None;
                }
            }
            Some((name_hits, item))
        })
        .collect();
    // Stable, so equal ranks stay in catalog order.
    ranked.sort_by_key(|(name_hits, _)| std::cmp::Reverse(*name_hits));
    ranked.into_iter().map(|(_, item)| item).collect()
}
