//! Prometheus metrics at `/metrics` (text exposition format): HTTP requests and latency by method,
//! route and status, kept in memory per process; purchases by status, ledger balances by kind and
//! queued jobs, read from the database at scrape time (so every process reports the shared truth).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_store_app::App;

/// Upper bounds of the latency histogram, in microseconds.
const BUCKETS_US: [u64; 12] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 2_500_000,
    10_000_000,
];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum_us: u64,
    buckets: [u64; BUCKETS_US.len()],
}

/// (method, route label, status).
type SeriesKey = (String, String, u16);

/// Request counters of this process.
#[derive(Debug, Clone, Default)]
pub struct HttpMetrics {
    series: Arc<Mutex<BTreeMap<SeriesKey, Series>>>,
}

/// A route label with ids replaced (`/v1/agent/purchases/{id}`), so label sets stay bounded.
pub fn route_label(path: &str, status: u16) -> String {
    if status == 404 && !path.starts_with("/v1/") {
        return "other".to_owned();
    }
    path.split('/')
        .map(|segment| {
            let looks_like_id = segment.split_once('_').is_some_and(|(prefix, rest)| {
                !prefix.is_empty()
                    && rest.len() >= 20
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            });
            if looks_like_id { "{id}" } else { segment }
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl HttpMetrics {
    pub fn observe(&self, method: &str, path: &str, status: u16, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let key = (method.to_owned(), route_label(path, status), status);
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = series.entry(key).or_default();
        entry.count += 1;
        entry.sum_us = entry.sum_us.saturating_add(micros);
        for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS_US) {
            if micros <= bound {
                *bucket += 1;
            }
        }
    }

    fn render_http(&self, out: &mut String) {
        let series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let _ = writeln!(
            out,
            "# HELP agent_store_http_requests_total HTTP requests by method, route and status."
        );
        let _ = writeln!(out, "# TYPE agent_store_http_requests_total counter");
        for ((method, route, status), s) in &series {
            let _ = writeln!(
                out,
                "agent_store_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP agent_store_http_request_duration_seconds HTTP request latency."
        );
        let _ = writeln!(
            out,
            "# TYPE agent_store_http_request_duration_seconds histogram"
        );
        for ((method, route, status), s) in &series {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (count, bound) in s.buckets.iter().zip(BUCKETS_US) {
                let _ = writeln!(
                    out,
                    "agent_store_http_request_duration_seconds_bucket{{{labels},le=\"{}\"}} {count}",
                    seconds(bound)
                );
            }
            let _ = writeln!(
                out,
                "agent_store_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "agent_store_http_request_duration_seconds_sum{{{labels}}} {}",
                seconds(s.sum_us)
            );
            let _ = writeln!(
                out,
                "agent_store_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
    }

    /// The whole exposition: this process's HTTP series and the database aggregates.
    pub async fn render(&self, app: &App) -> String {
        let mut out = String::new();
        self.render_http(&mut out);
        let Ok(stats) = app.operational_stats().await else {
            return out;
        };
        let _ = writeln!(out, "# HELP agent_store_purchases Purchases by status.");
        let _ = writeln!(out, "# TYPE agent_store_purchases gauge");
        for (status, count) in stats.purchases_by_status {
            let _ = writeln!(out, "agent_store_purchases{{status=\"{status}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "# HELP agent_store_ledger_balance_usd Summed ledger balances by account kind (all kinds sum to 0)."
        );
        let _ = writeln!(out, "# TYPE agent_store_ledger_balance_usd gauge");
        for (kind, micro) in stats.ledger_by_kind {
            let _ = writeln!(
                out,
                "agent_store_ledger_balance_usd{{kind=\"{kind}\"}} {}",
                micro_usd(micro)
            );
        }
        let _ = writeln!(out, "# HELP agent_store_jobs Jobs by status.");
        let _ = writeln!(out, "# TYPE agent_store_jobs gauge");
        for (status, count) in stats.jobs_by_status {
            let _ = writeln!(out, "agent_store_jobs{{status=\"{status}\"}} {count}");
        }
        out
    }
}

/// Microseconds as a decimal number of seconds, without floating point.
fn seconds(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// Micro-dollars as a decimal number of dollars, without floating point.
fn micro_usd(micro: i64) -> String {
    let sign = if micro < 0 { "-" } else { "" };
    let abs = micro.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_paths_become_placeholders() {
        assert_eq!(
            route_label("/v1/agent/purchases/pur_01m8hm8e308y2dk5rr195ybehp", 200),
            "/v1/agent/purchases/{id}"
        );
        assert_eq!(
            route_label("/v1/agent/catalog/items/cat_vps_micro/checkout", 200),
            "/v1/agent/catalog/items/cat_vps_micro/checkout"
        );
        assert_eq!(route_label("/random/junk", 404), "other");
        assert_eq!(seconds(2_500), "0.002500");
        assert_eq!(micro_usd(-25_000_000), "-25.000000");
    }
}
