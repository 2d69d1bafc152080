//! Engine check latencies only, three rounds each: a quick loop for work on the check path.
//! `checks` times every kind on the large workspace; `checks huge` the huge one.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

// The allocator the server runs with (see the `rolecall` binary).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use rolecall_bench::dataset::Dataset;
use rolecall_bench::queries::check_sets;
use rolecall_bench::stats::{Samples, human};
use rolecall_bench::{Scale, WORKSPACE, changes, engine, huge_changes, user_id, workflow};

fn main() {
    if std::env::args().nth(1).as_deref() == Some("huge") {
        return huge();
    }
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
                c.warm();
                s.time(|| index.check(&c.user, c.action, &c.resource)).expect("check");
            }
            line.push_str(&format!(" {} {}/{}", set.name, human(s.p50()), human(s.p99())));
            all.merge(&s);
        }
        println!("{line} | all p50 {} p99 {}", human(all.p50()), human(all.p99()));
    }
}

/// A random user of the 1,000,000 and one of the 1,000 workflows, three rounds.
fn huge() {
    let users = 1_000_000;
    let engine = engine(&huge_changes(users)).expect("applies");
    let index = engine.workspace(WORKSPACE).expect("workspace");
    let mut rng = fastrand::Rng::with_seed(19);
    for round in 0..3 {
        let mut s = Samples::default();
        for _ in 0..200_000 {
            let (u, w) = (user_id(rng.u32(0..users)), workflow(rng.u32(0..1_000)));
            s.time(|| index.check(&u, "run", &w)).expect("check");
        }
        println!("huge round {round}: p50 {} p99 {}", human(s.p50()), human(s.p99()));
    }
}
