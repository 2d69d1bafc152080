//! What a benchmark run prints and writes to `BENCHMARKS.md`: sections of Markdown tables
//! and the targets, each PASS or FAIL.

use std::fmt::Write as _;
use std::time::Duration;

use crate::stats::{Samples, human};

/// One target of the issue "Performance" and what this run measured for it.
#[derive(Clone, Debug)]
pub struct Target {
    pub what: String,
    pub target: String,
    pub measured: String,
    pub pass: bool,
}

#[derive(Debug, Default)]
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
        self.targets.push(Target { what: what.to_string(), target, measured, pass });
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
