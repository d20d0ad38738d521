//! Latency samples, percentiles and medians. Latencies are kept in microseconds.

use std::time::Duration;

use serde::Serialize;

/// Percentiles of one measured series.
#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub count: usize,
    pub errors: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Completed operations per second of wall time.
    pub throughput: f64,
}

/// Collected samples of one series.
#[derive(Debug, Default)]
pub struct Samples {
    pub latencies_us: Vec<f64>,
    pub errors: usize,
}

impl Samples {
    pub fn push(&mut self, latency: Duration) {
        self.latencies_us.push(latency.as_secs_f64() * 1e6);
    }

    pub fn summary(&self, wall: Duration) -> Summary {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_by(f64::total_cmp);
        let secs = wall.as_secs_f64();
        Summary {
            count: sorted.len(),
            errors: self.errors,
            p50_us: percentile(&sorted, 50.0),
            p99_us: percentile(&sorted, 99.0),
            throughput: if secs > 0.0 {
                sorted.len() as f64 / secs
            } else {
                0.0
            },
        }
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median of values (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// `a / b`, or NaN when `b` is zero.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { f64::NAN } else { a / b }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
