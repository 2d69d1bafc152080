//! Engine check latencies only, three rounds each: a quick loop for work on the check path.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

// The allocator the server runs with (see the `rolecall` binary).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use rolecall_bench::dataset::Dataset;
use rolecall_bench::queries::check_sets;
use rolecall_bench::stats::{Samples, human};
use rolecall_bench::{Scale, WORKSPACE, changes, engine};

fn main() {
    let changes = changes(Scale::LARGE, 42);
    let engine = engine(&changes).expect("applies");
    let dataset = Dataset::from_changes(&changes);
    drop(changes);
    let index = engine.workspace(WORKSPACE).expect("workspace");
    let warm = check_sets(&dataset, 5_000, 3);
    for set in &warm {
        for c in &set.checks {
            let _ = index.check(&c.user, c.action, &c.resource);
        }
    }
    let sets = check_sets(&dataset, 20_000, 7);
    for round in 0..3 {
        let mut all = Samples::default();
        let mut line = format!("round {round}:");
        for set in &sets {
            let mut s = Samples::default();
            for c in &set.checks {
                s.time(|| index.check(&c.user, c.action, &c.resource)).expect("check");
            }
            line.push_str(&format!(" {} {}/{}", set.name, human(s.p50()), human(s.p99())));
            all.merge(&s);
        }
        println!("{line} | all p50 {} p99 {}", human(all.p50()), human(all.p99()));
    }
}
