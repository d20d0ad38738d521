//! The model table built from the configuration: which upstreams serve a model id or alias, in
//! order (its own upstreams, then its fallbacks'), with each one's prices and caps, and the cost
//! arithmetic (integers only, rounded up to the micro-dollar).

use std::collections::BTreeMap;

use agent_store_providers::llm::{HttpUpstream, Upstream, sandbox};

use super::config::{ModelConfig, RouterConfig};

/// One way to serve a model: an upstream, the name to send it, and its prices.
#[derive(Debug, Clone)]
pub struct Route {
    pub upstream_name: String,
    pub upstream: Upstream,
    pub upstream_model: String,
    pub input_price: i64,
    pub output_price: i64,
    pub context_tokens: i64,
    pub max_output_tokens: i64,
}

impl Route {
    /// Cost of a call in micro-USD, rounded up: prices are per million tokens.
    pub fn cost(&self, prompt_tokens: i64, completion_tokens: i64) -> i64 {
        let numerator = i128::from(prompt_tokens.max(0)) * i128::from(self.input_price)
            + i128::from(completion_tokens.max(0)) * i128::from(self.output_price);
        let micro = (numerator + 999_999) / 1_000_000;
        i64::try_from(micro).unwrap_or(i64::MAX)
    }
}

/// A model as `GET /models` lists it.
#[derive(Debug, Clone)]
pub struct ListedModel {
    pub id: String,
    pub owned_by: String,
    pub aliases: Vec<String>,
    pub input_price: i64,
    pub output_price: i64,
    pub context_tokens: i64,
    pub max_output_tokens: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ModelTable {
    /// Canonical id -> its own routes, in configuration order.
    own: BTreeMap<String, Vec<Route>>,
    /// Canonical id -> fallback model names.
    fallbacks: BTreeMap<String, Vec<String>>,
    /// Alias -> canonical id.
    aliases: BTreeMap<String, String>,
    listed: Vec<ListedModel>,
}

impl ModelTable {
    pub fn build(config: &RouterConfig, client: &reqwest::Client) -> Self {
        let mut table = Self::default();
        if config.sandbox_enabled {
            let model = ModelConfig {
                id: sandbox::MODEL.to_owned(),
                upstream_model: None,
                input_price_micro_per_million: 1_000_000,
                output_price_micro_per_million: 2_000_000,
                context_tokens: 8192,
                max_output_tokens: 1024,
                aliases: Vec::new(),
                fallbacks: Vec::new(),
            };
            table.add("sandbox", &Upstream::Sandbox, &model);
        }
        for u in &config.upstreams {
            let api_key = u
                .api_key_env
                .as_deref()
                .and_then(|var| std::env::var(var).ok())
                .filter(|k| !k.is_empty());
            if u.api_key_env.is_some() && api_key.is_none() {
                tracing::warn!(upstream = %u.name, "the router upstream's api_key_env variable is not set");
            }
            let upstream = Upstream::Http(HttpUpstream::new(
                u.name.clone(),
                &u.base_url,
                api_key,
                client.clone(),
            ));
            for m in &u.models {
                table.add(&u.name, &upstream, m);
            }
        }
        table
    }

    fn add(&mut self, upstream_name: &str, upstream: &Upstream, m: &ModelConfig) {
        let route = Route {
            upstream_name: upstream_name.to_owned(),
            upstream: upstream.clone(),
            upstream_model: m.upstream_model.clone().unwrap_or_else(|| m.id.clone()),
            input_price: m.input_price_micro_per_million,
            output_price: m.output_price_micro_per_million,
            context_tokens: m.context_tokens,
            max_output_tokens: m.max_output_tokens,
        };
        let routes = self.own.entry(m.id.clone()).or_default();
        let first = routes.is_empty();
        routes.push(route);
        let fallbacks = self.fallbacks.entry(m.id.clone()).or_default();
        for f in &m.fallbacks {
            if !fallbacks.contains(f) {
                fallbacks.push(f.clone());
            }
        }
        for alias in &m.aliases {
            self.aliases
                .entry(alias.clone())
                .or_insert_with(|| m.id.clone());
        }
        if first {
            self.listed.push(ListedModel {
                id: m.id.clone(),
                owned_by: upstream_name.to_owned(),
                aliases: m.aliases.clone(),
                input_price: m.input_price_micro_per_million,
                output_price: m.output_price_micro_per_million,
                context_tokens: m.context_tokens,
                max_output_tokens: m.max_output_tokens,
            });
        }
    }

    fn canonical<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        if self.own.contains_key(name) {
            Some(name)
        } else {
            self.aliases.get(name).map(String::as_str)
        }
    }

    /// The id of the model `name` (an id or alias) names, if known.
    pub fn canonical_id<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.canonical(name)
    }

    /// Every route for `name` (an id or alias), in the order to try them; empty if unknown.
    pub fn routes(&self, name: &str) -> Vec<Route> {
        let Some(id) = self.canonical(name) else {
            return Vec::new();
        };
        let mut out: Vec<Route> = self.own.get(id).cloned().unwrap_or_default();
        for f in self.fallbacks.get(id).into_iter().flatten() {
            if let Some(fid) = self.canonical(f)
                && fid != id
            {
                out.extend(self.own.get(fid).cloned().unwrap_or_default());
            }
        }
        out
    }

    pub fn listed(&self) -> &[ListedModel] {
        &self.listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(input: i64, output: i64) -> Route {
        Route {
            upstream_name: "u".into(),
            upstream: Upstream::Sandbox,
            upstream_model: "m".into(),
            input_price: input,
            output_price: output,
            context_tokens: 1000,
            max_output_tokens: 100,
        }
    }

    #[test]
    fn costs_round_up_to_the_micro_dollar() {
        assert_eq!(route(1_000_000, 2_000_000).cost(10, 5), 20);
        assert_eq!(route(1, 1).cost(1, 0), 1);
        assert_eq!(route(1, 1).cost(0, 0), 0);
        assert_eq!(route(3_000_000, 15_000_000).cost(1, 1), 18);
        assert_eq!(route(150_000, 600_000).cost(7, 3), 3);
    }
}
