//! Latencies and errors of a case, and their percentiles.

use std::collections::BTreeMap;
use std::time::Duration;

/// Latencies (µs) of the successful requests in the measured window, and errors by kind.
#[derive(Default)]
pub struct Stats {
    /// In µs, except where a case says otherwise (scheduler-tick keeps nanoseconds).
    pub lat_us: Vec<u32>,
    pub errors: BTreeMap<String, u64>,
}

impl Stats {
    pub fn record(&mut self, d: Duration) {
        self.lat_us.push(d.as_micros().min(u32::MAX as u128) as u32);
    }

    pub fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    pub fn merge(&mut self, other: Stats) {
        self.lat_us.extend(other.lat_us);
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn error_text(&self) -> String {
        self.errors.iter().map(|(k, n)| format!("{n}× {k}")).collect::<Vec<_>>().join(", ")
    }

    pub fn summary(&mut self) -> Summary {
        self.lat_us.sort_unstable();
        let v = &self.lat_us;
        let mean = if v.is_empty() {
            0.0
        } else {
            v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64
        };
        Summary {
            count: v.len(),
            p50: pct(v, 0.50).unwrap_or(0) as f64,
            p99: pct(v, 0.99).unwrap_or(0) as f64,
            max: v.last().copied().unwrap_or(0) as f64,
            mean,
        }
    }
}

/// Latency figures, in the unit of `Stats::lat_us`.
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// The value at quantile `q` of sorted `v` (nearest rank).
pub fn pct<T: Copy>(v: &[T], q: f64) -> Option<T> {
    if v.is_empty() {
        return None;
    }
    let rank = (q * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(pct(&v, 0.5), Some(50));
        assert_eq!(pct(&v, 0.99), Some(99));
        assert_eq!(pct(&v, 1.0), Some(100));
        assert_eq!(pct::<u32>(&[], 0.5), None);
        assert_eq!(pct(&[7], 0.99), Some(7));
    }
}
