//! What a benchmark run prints and writes to `BENCHMARKS.md`: sections of Markdown tables
//! and the targets, each PASS or FAIL.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stats::{Samples, human};

/// One target of the issue "Performance" and what this run measured for it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    pub what: String,
    pub target: String,
    pub measured: String,
    pub pass: bool,
    /// Why the target may be missed on this machine, with this run's numbers: printed
    /// under the targets when it is.
    pub if_missed: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Report {
    body: String,
    pub targets: Vec<Target>,
}

impl Report {
    /// Adds Markdown (and prints it, so a long run shows its progress).
    pub fn add(&mut self, markdown: &str) {
        print!("{markdown}");
        self.body.push_str(markdown);
    }

    pub fn heading(&mut self, text: &str) {
        self.add(&format!("\n## {text}\n\n"));
    }

    pub fn paragraph(&mut self, text: &str) {
        self.add(&format!("{text}\n\n"));
    }

    /// A table of latencies: one row per measured operation.
    pub fn latency_table(&mut self, rows: &[(String, &Samples, String)]) {
        let mut out = String::from("| what | samples | p50 | p99 | max | note |\n|---|---:|---:|---:|---:|---|\n");
        for (name, s, note) in rows {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {note} |",
                s.len(),
                human(s.p50()),
                human(s.p99()),
                human(s.max())
            );
        }
        out.push('\n');
        self.add(&out);
    }

    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let mut out = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
        for row in rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out.push('\n');
        self.add(&out);
    }

    /// Records a latency target: `measured <= limit`.
    pub fn at_most(&mut self, what: &str, measured: Duration, limit: Duration) {
        self.target(what, format!("<= {}", human(limit)), human(measured), measured <= limit);
    }

    pub fn target(&mut self, what: &str, target: String, measured: String, pass: bool) {
        println!("{} {what}: {measured} (target {target})", if pass { "PASS" } else { "FAIL" });
        self.targets.push(Target { what: what.to_string(), target, measured, pass, if_missed: None });
    }

    /// What to say, with this run's numbers, if the target recorded last was missed.
    pub fn if_missed(&mut self, why: String) {
        if let Some(t) = self.targets.last_mut() {
            t.if_missed = Some(why);
        }
    }

    /// The sections and targets so far, for another process to [`Report::absorb_json`].
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Adds what another process measured (it printed it already).
    pub fn absorb_json(&mut self, json: &str) -> Result<(), serde_json::Error> {
        let other: Report = serde_json::from_str(json)?;
        self.body.push_str(&other.body);
        self.targets.extend(other.targets);
        Ok(())
    }

    /// The whole document: the targets first, then every section.
    pub fn document(&self, preface: &str) -> String {
        let mut out = String::from(preface);
        out.push_str("\n## Targets\n\n| target | required | measured | |\n|---|---|---|---|\n");
        for t in &self.targets {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                t.what,
                t.target,
                t.measured,
                if t.pass { "PASS" } else { "FAIL" }
            );
        }
        let missed: Vec<&Target> = self.targets.iter().filter(|t| !t.pass).collect();
        if !missed.is_empty() {
            out.push_str("\n### The targets this run missed\n\n");
            for t in missed {
                let why = t.if_missed.as_deref().unwrap_or("No explanation was recorded for this target.");
                let _ = writeln!(out, "- **{}** ({}, required {}): {why}", t.what, t.measured, t.target);
            }
        }
        out.push_str(&self.body);
        out
    }
}

/// A ratio for a table cell, e.g. `183x`.
pub fn ratio(slow: Duration, fast: Duration) -> String {
    if fast.is_zero() {
        return "-".into();
    }
    let r = slow.as_secs_f64() / fast.as_secs_f64();
    if r >= 10.0 { format!("{r:.0}x") } else { format!("{r:.1}x") }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A missed target measured in another process still comes with its explanation, under
    /// the targets table of the document; a met one has none.
    #[test]
    fn a_missed_target_is_explained_after_its_trip_through_another_process() {
        let mut child = Report::default();
        child.heading("The huge workspace");
        child.at_most("check p99", Duration::from_nanos(1_200), Duration::from_micros(1));
        child.if_missed("memory latency".into());
        child.at_most("lookup p99", Duration::from_micros(5), Duration::from_millis(2));
        let mut parent = Report::default();
        parent.absorb_json(&child.to_json()).unwrap();
        let doc = parent.document("# Benchmarks\n");
        assert!(doc.contains("| check p99 | <= 1.00 us | 1.20 us | FAIL |"), "{doc}");
        assert!(doc.contains("| lookup p99 | <= 2.00 ms | 5.00 us | PASS |"), "{doc}");
        assert!(doc.contains("- **check p99** (1.20 us, required <= 1.00 us): memory latency"), "{doc}");
        assert!(!doc.contains("- **lookup p99**"), "{doc}");
        assert!(doc.contains("## The huge workspace"), "{doc}");
    }
}
