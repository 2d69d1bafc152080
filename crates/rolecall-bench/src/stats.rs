//! Latency samples and what is reported of them.

use std::time::{Duration, Instant};

/// Latencies of one measured operation, in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    ns: Vec<u64>,
}

impl Samples {
    pub fn with_capacity(n: usize) -> Samples {
        Samples { ns: Vec::with_capacity(n) }
    }

    pub fn push(&mut self, d: Duration) {
        self.ns.push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Runs `f` once, records how long it took and hands back what it returned.
    pub fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = f();
        self.push(started.elapsed());
        out
    }

    pub fn len(&self) -> usize {
        self.ns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ns.is_empty()
    }

    /// The `p`-th quantile (0.0 to 1.0), nearest rank; zero when there are no samples.
    pub fn quantile(&self, p: f64) -> Duration {
        let mut sorted = self.ns.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((sorted.len() as f64) * p).ceil() as usize;
        Duration::from_nanos(sorted[rank.clamp(1, sorted.len()) - 1])
    }

    pub fn p50(&self) -> Duration {
        self.quantile(0.50)
    }

    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.ns.iter().copied().max().unwrap_or(0))
    }

    pub fn mean(&self) -> Duration {
        if self.ns.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.ns.iter().sum::<u64>() / self.ns.len() as u64)
    }

    /// The first `n` samples, in the order they were taken.
    pub fn first(&self, n: usize) -> Samples {
        Samples { ns: self.ns.iter().copied().take(n).collect() }
    }

    pub fn merge(&mut self, other: &Samples) {
        self.ns.extend_from_slice(&other.ns);
    }
}

/// A duration the way a reader wants it: ns, us, ms or s with three significant digits.
pub fn human(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "us")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// Resident memory of this process, in bytes (Linux; zero elsewhere).
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut s = Samples::default();
        for i in 1..=100 {
            s.push(Duration::from_nanos(i));
        }
        assert_eq!(s.p50(), Duration::from_nanos(50));
        assert_eq!(s.p99(), Duration::from_nanos(99));
        assert_eq!(s.max(), Duration::from_nanos(100));
        assert_eq!(human(Duration::from_nanos(1_234)), "1.23 us");
        assert_eq!(human(Duration::from_micros(174)), "174 us");
    }
}
