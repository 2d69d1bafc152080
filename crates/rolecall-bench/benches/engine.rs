//! `cargo bench -p rolecall-bench`: the engine's questions and writes on the large
//! workspace, with Cedar on the very same checks, measured by criterion.
//!
//! Under `cargo test` (no `--bench` argument) criterion runs each benchmark once, on the
//! small workspace, so that CI keeps these compiling and working.
//!
//! Criterion reports means and confidence intervals; the p99 targets of the issue are
//! measured by `cargo run --release -p rolecall-bench --bin report`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rolecall_bench::dataset::Dataset;
use rolecall_bench::peers::cedar::CedarPeer;
use rolecall_bench::queries::check_sets;
use rolecall_bench::{APPS_FOR_EVERYONE, Scale, WORKSPACE, app, changes, engine, user_id, workflow};
use rolecall_model::{Change, Op, Subject};

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn scale() -> Scale {
    if std::env::args().any(|a| a == "--bench") { Scale::LARGE } else { Scale::SMALL }
}

fn benches(c: &mut Criterion) {
    let scale = scale();
    let all = changes(scale, 42);
    let dataset = Dataset::from_changes(&all);
    let mut engine = engine(&all).expect("the workspace applies");
    drop(all);
    let cedar = CedarPeer::load(&dataset).expect("cedar loads");
    let sets = check_sets(&dataset, 1_000, 7);

    let index = engine.workspace(WORKSPACE).expect("the workspace");
    for set in &sets {
        let mut group = c.benchmark_group(format!("check/{}", set.name));
        let mut i = 0;
        group.bench_function("rolecall", |b| {
            b.iter(|| {
                let q = &set.checks[i % set.checks.len()];
                i += 1;
                black_box(index.check(&q.user, q.action, &q.resource).expect("check"))
            })
        });
        let mut i = 0;
        group.bench_function("cedar (slice + decide)", |b| {
            b.iter(|| {
                let q = &set.checks[i % set.checks.len()];
                i += 1;
                black_box(cedar.check(q).expect("cedar"))
            })
        });
        let prepared: Vec<_> =
            set.checks.iter().map(|q| (cedar.request(q).expect("request"), cedar.slice(q).expect("slice"))).collect();
        let mut i = 0;
        group.bench_function("cedar (decide only)", |b| {
            b.iter(|| {
                let (request, entities) = &prepared[i % prepared.len()];
                i += 1;
                black_box(cedar.decide(request, entities))
            })
        });
        group.finish();
    }

    let mut rng = fastrand::Rng::with_seed(5);
    let workflows = scale.apps * scale.workflows_per_app;
    let mut group = c.benchmark_group("questions");
    group.bench_function("lookup resources (run, workflow)", |b| {
        b.iter_batched(
            || user_id(rng.u32(0..scale.users)),
            |u| black_box(index.lookup_resources(&u, "run", "workflow").expect("lookup").len()),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("lookup subjects (run, app for everyone)", |b| {
        b.iter_batched(
            || app(rng.u32(0..APPS_FOR_EVERYONE)),
            |a| black_box(index.lookup_subjects(&a, "run").expect("lookup").len()),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("explain (run, workflow)", |b| {
        b.iter_batched(
            || (user_id(rng.u32(0..scale.users)), workflow(rng.u32(0..workflows))),
            |(u, w)| black_box(index.explain(&u, "run", &w).expect("explain")),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("data filter (sales)", |b| {
        b.iter_batched(
            || user_id(rng.u32(0..scale.users)),
            |u| black_box(index.data_filter(&u, "sales").expect("filter")),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("writes");
    let mut n = 0u32;
    group.bench_function("apply a grant", |b| {
        b.iter_batched(
            || {
                n += 1;
                Change::new(
                    WORKSPACE,
                    Op::PutGrant {
                        resource: workflow(rng.u32(0..workflows)),
                        subject: Subject::User(user_id(rng.u32(0..scale.users))),
                        role: if n.is_multiple_of(2) { "runner".into() } else { "restricted".into() },
                    },
                )
            },
            |change| black_box(engine.apply(&change).is_ok()),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
