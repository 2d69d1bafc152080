//! A quick look at the engine on the large workspace: load time, memory, and check and
//! lookup latencies. The benchmark suite proper (criterion, peers) builds on the same data.

// A measuring tool: a broken workspace should stop it loudly.
#![allow(clippy::panic)]

use std::time::Instant;

use rolecall_bench::{Scale, WORKSPACE, app, changes, huge_changes, user_id, workflow};
use rolecall_engine::Engine;
use rolecall_model::Limits;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn percentiles(mut ns: Vec<u128>) -> String {
    ns.sort_unstable();
    let at = |p: f64| ns[((ns.len() as f64 - 1.0) * p) as usize];
    format!("p50 {} ns, p99 {} ns, max {} ns", at(0.5), at(0.99), at(1.0))
}

fn huge() {
    let started = Instant::now();
    let mut engine = Engine::new(Limits::default());
    for c in &huge_changes(1_000_000) {
        if let Err(e) = engine.apply(c) {
            panic!("{e}");
        }
    }
    println!("huge: applied in {:?}; process resident memory {:.0} MiB", started.elapsed(), rss_mib());
    let index = engine.workspace(WORKSPACE).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = fastrand::Rng::with_seed(7);
    let mut times = Vec::new();
    for _ in 0..200_000 {
        let (u, w) = (user_id(rng.u32(0..1_000_000)), workflow(rng.u32(0..1_000)));
        let t = Instant::now();
        let _ = index.check(&u, "run", &w);
        times.push(t.elapsed().as_nanos());
    }
    println!("huge: check through the 1,000,000-member group: {}", percentiles(times));
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let found = index.lookup_subjects(&app(rng.u32(0..1_000)), "run").map(|s| s.len()).unwrap_or(0);
        times.push(t.elapsed().as_nanos());
        assert_eq!(found, 1_000_000);
    }
    println!("huge: lookup subjects (1,000,000 found): {}", percentiles(times));
    let mut engine = engine;
    let mut times = Vec::new();
    for i in 0..2_000u32 {
        let op = rolecall_model::Op::RemoveMember { group: "all".into(), user: user_id(i) };
        let t = Instant::now();
        let _ = engine.apply(&rolecall_model::Change::new(WORKSPACE, op));
        times.push(t.elapsed().as_nanos());
    }
    println!("huge: remove one member of the big group: {}", percentiles(times));
}

fn main() {
    if std::env::args().any(|a| a == "--huge") {
        return huge();
    }
    let scale = Scale::LARGE;
    let started = Instant::now();
    let all = changes(scale, 42);
    println!("generated {} changes in {:?}", all.len(), started.elapsed());
    let started = Instant::now();
    let mut engine = Engine::new(Limits::default());
    let mut refused = 0;
    for c in &all {
        if engine.apply(c).is_err() {
            refused += 1;
        }
    }
    println!("applied in {:?} ({refused} refused, e.g. duplicate memberships are no-ops)", started.elapsed());
    drop(all);
    println!("process resident memory after loading: {:.0} MiB", rss_mib());
    let index = engine.workspace(WORKSPACE).unwrap_or_else(|e| panic!("{e}"));

    let mut rng = fastrand::Rng::with_seed(7);
    let workflows = scale.apps * scale.workflows_per_app;
    let mut times = Vec::new();
    let mut allowed = 0;
    for _ in 0..200_000 {
        let u = user_id(rng.u32(0..scale.users));
        let w = workflow(rng.u32(0..workflows));
        let t = Instant::now();
        let d = index.check(&u, "run", &w);
        times.push(t.elapsed().as_nanos());
        allowed += usize::from(d.map(|d| d.allowed).unwrap_or(false));
    }
    println!("check (random user, random workflow): {} ({allowed} allowed)", percentiles(times));

    let mut times = Vec::new();
    for _ in 0..20_000 {
        let u = user_id(rng.u32(0..scale.users) / 1000 * 1000);
        let w = workflow(rng.u32(0..workflows));
        let t = Instant::now();
        let _ = index.check(&u, "update", &w);
        times.push(t.elapsed().as_nanos());
    }
    println!("check (workspace admin): {}", percentiles(times));

    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..2_000 {
        let u = user_id(rng.u32(0..scale.users));
        let t = Instant::now();
        let set = index.lookup_resources(&u, "run", "workflow").unwrap_or_else(|e| panic!("{e}"));
        times.push(t.elapsed().as_nanos());
        found += set.len();
    }
    println!("lookup resources (run, workflow): {} (avg {} found)", percentiles(times), found / 2000);
    let mut times = Vec::new();
    for _ in 0..100 {
        let u = user_id(rng.u32(0..scale.users / 1000) * 1000);
        let t = Instant::now();
        let set = index.lookup_resources(&u, "run", "workflow").unwrap_or_else(|e| panic!("{e}"));
        times.push(t.elapsed().as_nanos());
        found = set.len() as u64;
    }
    println!("lookup resources as admin ({found} found): {}", percentiles(times));

    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..2_000 {
        let a = app(rng.u32(0..scale.apps));
        let t = Instant::now();
        let set = index.lookup_subjects(&a, "run").unwrap_or_else(|e| panic!("{e}"));
        times.push(t.elapsed().as_nanos());
        found += set.len();
    }
    println!("lookup subjects (run, app): {} (avg {} found)", percentiles(times), found / 2000);

    let mut times = Vec::new();
    for _ in 0..2_000 {
        let u = user_id(rng.u32(0..scale.users));
        let w = workflow(rng.u32(0..workflows));
        let t = Instant::now();
        let _ = index.explain(&u, "run", &w);
        times.push(t.elapsed().as_nanos());
    }
    println!("explain: {}", percentiles(times));

    let mut times = Vec::new();
    for i in 0..20_000u32 {
        let op = rolecall_model::Op::PutGrant {
            resource: workflow(rng.u32(0..workflows)),
            subject: rolecall_model::Subject::User(user_id(rng.u32(0..scale.users))),
            role: if i % 2 == 0 { "runner".into() } else { "restricted".into() },
        };
        let change = rolecall_model::Change::new(WORKSPACE, op);
        let t = Instant::now();
        let _ = engine.apply(&change);
        times.push(t.elapsed().as_nanos());
    }
    println!("apply one grant: {}", percentiles(times));
    let mut times = Vec::new();
    for i in 0..20_000u32 {
        let op = rolecall_model::Op::PutMember {
            group: rolecall_bench::group_id(rng.u32(0..scale.groups)),
            user: user_id(i),
            role: rolecall_model::MemberRole::Member,
        };
        let change = rolecall_model::Change::new(WORKSPACE, op);
        let t = Instant::now();
        let _ = engine.apply(&change);
        times.push(t.elapsed().as_nanos());
    }
    println!("apply one membership: {}", percentiles(times));
}
