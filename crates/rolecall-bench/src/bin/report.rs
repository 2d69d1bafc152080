//! The benchmark suite in one run: Rolecall's engine on the large and huge workspaces, the
//! peers on the same data and checks, the embedded store, and the HTTP API under load.
//! Prints every number and each target as PASS or FAIL, then writes `BENCHMARKS.md`.
//!
//! `cargo run --release -p rolecall-bench --bin report` (add `-- --quick` for a short run
//! with fewer samples that does not write the file).

// A measuring tool: a broken workspace or a peer that cannot load should stop it loudly.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

// The allocator the server runs with (see the `rolecall` binary).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use rolecall_bench::dataset::Dataset;
use rolecall_bench::queries::{Check, CheckSet, check_sets};
use rolecall_bench::report::{Report, ratio};
use rolecall_bench::stats::{Samples, human, resident_bytes};
use rolecall_bench::{
    APPS_FOR_EVERYONE, Scale, WORKSPACE, app, changes, engine, group_id, huge_changes, user_id, workflow,
};
use rolecall_engine::WorkspaceIndex;
use rolecall_model::{Change, MemberRole, Op, ResourceRef, Subject};

#[derive(Parser, Debug)]
struct Args {
    /// Fewer samples, and BENCHMARKS.md is left alone: for trying the suite out.
    #[arg(long)]
    quick: bool,
    /// Where to write the report.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../BENCHMARKS.md"))]
    out: PathBuf,
}

/// How many samples each kind of measurement takes.
#[derive(Clone, Copy, Debug)]
struct Counts {
    checks_per_kind: usize,
    random_checks: usize,
    lookups: usize,
    writes: usize,
    cedar_per_kind: usize,
    cedar_lookups: usize,
}

const FULL: Counts = Counts {
    checks_per_kind: 20_000,
    random_checks: 200_000,
    lookups: 2_000,
    writes: 20_000,
    cedar_per_kind: 2_000,
    cedar_lookups: 3,
};

const QUICK: Counts = Counts {
    checks_per_kind: 2_000,
    random_checks: 20_000,
    lookups: 200,
    writes: 2_000,
    cedar_per_kind: 200,
    cedar_lookups: 1,
};

fn main() {
    let args = Args::parse();
    let counts = if args.quick { QUICK } else { FULL };
    let mut report = Report::default();
    report.add(&machine());

    let large = Large::build(&mut report);
    let rolecall_checks = engine_checks(&mut report, &large, counts);
    engine_lookups(&mut report, &large, counts);
    engine_writes(&mut report, large.changes.clone(), counts);
    cedar(&mut report, &large, &rolecall_checks, counts);
    huge(&mut report, counts);

    let preface = "# Benchmarks\n\nWritten by `cargo run --release -p rolecall-bench --bin report` (the numbers \
                   below are from one run of it; see docs/benchmarks.md for what each measures and how).\n";
    let document = report.document(preface);
    let failed = report.targets.iter().filter(|t| !t.pass).count();
    println!("\n{} targets, {failed} failed", report.targets.len());
    if args.quick {
        println!("(--quick: {} left alone)", args.out.display());
    } else {
        std::fs::write(&args.out, document).unwrap_or_else(|e| panic!("writing {}: {e}", args.out.display()));
        println!("wrote {}", args.out.display());
    }
}

/// The machine and build the numbers come from.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let run = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "\n## Machine\n\n{} cores ({}), {:.0} GiB memory, Linux {}; {}; commit {}; {}.\n\
         Single-threaded engine measurements; each latency is one call timed on its own.\n",
        cores,
        cpu.trim(),
        mem_kb as f64 / 1024.0 / 1024.0,
        run("uname", &["-r"]),
        run("rustc", &["-V"]),
        run("git", &["rev-parse", "--short", "HEAD"]),
        run("date", &["-u", "+%Y-%m-%d"]),
    )
}

/// The large workspace, loaded into the engine, and the checks drawn from it.
struct Large {
    changes: Vec<Change>,
    dataset: Dataset,
    engine: rolecall_engine::Engine,
}

impl Large {
    fn build(report: &mut Report) -> Large {
        let scale = Scale::LARGE;
        let started = Instant::now();
        let changes = changes(scale, 42);
        let generated = started.elapsed();
        let started = Instant::now();
        let engine = engine(&changes).expect("the large workspace applies");
        let applied = started.elapsed();
        let dataset = Dataset::from_changes(&changes);
        report.heading("The large workspace in the engine");
        report.paragraph(&format!(
            "{} users, {} groups ({} per user, nested up to depth 3), {} apps x {} workflows, {} grants \
             ({}% of workflow grants restricted), {} apps granted to `everyone`; a fifth of the groups have a \
             data scope. {} changes, generated in {} (seed 42), applied to an empty engine in {}.",
            scale.users,
            scale.groups,
            scale.groups_per_user,
            scale.apps,
            scale.workflows_per_app,
            scale.grants,
            scale.restricted_percent,
            APPS_FOR_EVERYONE,
            changes.len(),
            human(generated),
            human(applied),
        ));
        Large { changes, dataset, engine }
    }

    fn index(&self) -> &WorkspaceIndex {
        self.engine.workspace(WORKSPACE).expect("the bench workspace")
    }
}

/// Rolecall's answers and latencies for each kind of check.
struct KindResult {
    set: CheckSet,
    answers: Vec<bool>,
    samples: Samples,
}

fn time_checks(index: &WorkspaceIndex, checks: &[Check]) -> (Vec<bool>, Samples) {
    let mut samples = Samples::with_capacity(checks.len());
    let mut answers = Vec::with_capacity(checks.len());
    for c in checks {
        let d = samples.time(|| index.check(&c.user, c.action, &c.resource));
        answers.push(d.expect("a known check").allowed);
    }
    (answers, samples)
}

fn engine_checks(report: &mut Report, large: &Large, counts: Counts) -> Vec<KindResult> {
    let index = large.index();
    // Warm up on other cases of every kind (code, branch predictors; not these cases' data).
    for set in check_sets(&large.dataset, counts.checks_per_kind / 4, 3) {
        time_checks(index, &set.checks);
    }
    let sets = check_sets(&large.dataset, counts.checks_per_kind, 7);
    let mut results: Vec<KindResult> = sets
        .into_iter()
        .map(|set| {
            let (answers, samples) = time_checks(index, &set.checks);
            KindResult { set, answers, samples }
        })
        .collect();
    // Random users and workflows over the whole workspace: the least cache-friendly mix.
    let mut rng = fastrand::Rng::with_seed(9);
    let workflows = Scale::LARGE.apps * Scale::LARGE.workflows_per_app;
    let random: Vec<Check> = (0..counts.random_checks)
        .map(|_| Check {
            user: user_id(rng.u32(0..Scale::LARGE.users)),
            action: "run",
            resource: workflow(rng.u32(0..workflows)),
        })
        .collect();
    let (answers, samples) = time_checks(index, &random);
    results.push(KindResult {
        set: CheckSet { name: "random", what: "a random user and a random workflow", checks: random },
        answers,
        samples,
    });

    report.heading("Checks (engine, large workspace)");
    let mut all = Samples::default();
    let rows: Vec<(String, &Samples, String)> = results
        .iter()
        .map(|r| {
            let allowed = r.answers.iter().filter(|a| **a).count();
            (r.set.name.to_string(), &r.samples, format!("{}; {allowed} allowed", r.set.what))
        })
        .collect();
    report.latency_table(&rows);
    for r in &results {
        all.merge(&r.samples);
    }
    report.at_most("engine check p99, large workspace (every kind)", all.p99(), Duration::from_micros(1));
    results
}

fn engine_lookups(report: &mut Report, large: &Large, counts: Counts) {
    let index = large.index();
    let scale = Scale::LARGE;
    let mut rng = fastrand::Rng::with_seed(11);
    let mut users = Samples::default();
    let mut found = 0;
    for _ in 0..counts.lookups {
        let u = user_id(rng.u32(0..scale.users));
        found += users.time(|| index.lookup_resources(&u, "run", "workflow").expect("lookup").len());
    }
    let avg_found = found / counts.lookups as u64;
    let mut admins = Samples::default();
    for _ in 0..counts.lookups / 10 {
        let u = user_id(rng.u32(0..scale.users / 1000) * 1000);
        found = admins.time(|| index.lookup_resources(&u, "run", "workflow").expect("lookup").len());
    }
    let admin_found = found;
    let mut subjects = Samples::default();
    let mut subjects_found = 0;
    for _ in 0..counts.lookups {
        let a = app(rng.u32(APPS_FOR_EVERYONE..scale.apps));
        subjects_found += subjects.time(|| index.lookup_subjects(&a, "run").expect("lookup").len());
    }
    let mut everyone = Samples::default();
    let mut everyone_found = 0;
    for i in 0..counts.lookups / 10 {
        let a = app(i as u32 % APPS_FOR_EVERYONE);
        everyone_found = everyone.time(|| index.lookup_subjects(&a, "run").expect("lookup").len());
    }
    let mut explain = Samples::default();
    let workflows = scale.apps * scale.workflows_per_app;
    for _ in 0..counts.lookups * 10 {
        let (u, w) = (user_id(rng.u32(0..scale.users)), workflow(rng.u32(0..workflows)));
        explain.time(|| index.explain(&u, "run", &w).expect("explain"));
    }
    let mut filter = Samples::default();
    for _ in 0..counts.lookups * 10 {
        let u = user_id(rng.u32(0..scale.users));
        filter.time(|| index.data_filter(&u, "sales").expect("data filter"));
    }

    report.heading("Lookups, explain and data filter (engine, large workspace)");
    report.latency_table(&[
        (
            "lookup resources (run, workflow), random user".into(),
            &users,
            format!("over {workflows} workflows; {avg_found} found on average"),
        ),
        ("lookup resources, workspace admin".into(), &admins, format!("{admin_found} found")),
        (
            "lookup subjects (run, app), random app".into(),
            &subjects,
            format!("{} found on average", subjects_found / counts.lookups as u64),
        ),
        ("lookup subjects, app granted to everyone".into(), &everyone, format!("{everyone_found} users found")),
        ("explain (run, workflow), random".into(), &explain, "every path and deny".into()),
        ("data filter (sales), random user".into(), &filter, "union of the user's groups' scopes".into()),
    ]);
    let mut resources = users.clone();
    resources.merge(&admins);
    report.at_most(
        "lookup resources over 100,000 workflows p99 (random users and admins)",
        resources.p99(),
        Duration::from_millis(2),
    );
    report.at_most("lookup subjects, app reachable by 100,000 users, p99", everyone.p99(), Duration::from_millis(5));
}

fn engine_writes(report: &mut Report, changes: Vec<Change>, counts: Counts) {
    let mut engine = engine(&changes).expect("the large workspace applies");
    drop(changes);
    let scale = Scale::LARGE;
    let workflows = scale.apps * scale.workflows_per_app;
    let mut rng = fastrand::Rng::with_seed(13);
    let mut grants = Samples::default();
    for i in 0..counts.writes {
        let op = Op::PutGrant {
            resource: workflow(rng.u32(0..workflows)),
            subject: Subject::User(user_id(rng.u32(0..scale.users))),
            role: if i % 2 == 0 { "runner".into() } else { "restricted".into() },
        };
        let change = Change::new(WORKSPACE, op);
        grants.time(|| engine.apply(&change)).expect("a grant applies");
    }
    let mut members = Samples::default();
    for i in 0..counts.writes {
        let op = Op::PutMember {
            group: group_id(rng.u32(0..scale.groups)),
            user: user_id(i as u32),
            role: MemberRole::Member,
        };
        let change = Change::new(WORKSPACE, op);
        members.time(|| engine.apply(&change)).expect("a membership applies");
    }
    let mut removals = Samples::default();
    for i in 0..counts.writes {
        let op = Op::RemoveGrant {
            resource: ResourceRef::new("workflow", format!("w{}", rng.u32(0..workflows))),
            subject: Subject::User(user_id(i as u32)),
        };
        let change = Change::new(WORKSPACE, op);
        // Most of these find no grant and are refused: the cost of finding out is timed too.
        let _ = removals.time(|| engine.apply(&change));
    }
    report.heading("Writes applied to the index (engine, large workspace)");
    report.latency_table(&[
        ("grant (runner or restricted) to a user on a workflow".into(), &grants, String::new()),
        ("membership of a user in a nested group".into(), &members, "updates every ancestor's members".into()),
        ("grant removal (mostly of a grant that is not there)".into(), &removals, String::new()),
    ]);
    let mut all = grants;
    all.merge(&members);
    report.at_most("one write applied to the index, p99", all.p99(), Duration::from_micros(20));
}

fn cedar(report: &mut Report, large: &Large, rolecall: &[KindResult], counts: Counts) {
    use rolecall_bench::peers::cedar::CedarPeer;
    let started = Instant::now();
    let peer = CedarPeer::load(&large.dataset).expect("cedar loads");
    let loaded = started.elapsed();
    let mut rows = Vec::new();
    let mut all_total = Samples::default();
    let mut all_rolecall = Samples::default();
    let mut disagreements = 0;
    for kind in rolecall {
        let (mut slice, mut decide, mut total) = (Samples::default(), Samples::default(), Samples::default());
        let n = counts.cedar_per_kind.min(kind.set.checks.len());
        for (c, want) in kind.set.checks.iter().zip(&kind.answers).take(n) {
            let started = Instant::now();
            let got = peer.check_timed(c, &mut slice, &mut decide).expect("cedar answers");
            total.push(started.elapsed());
            if got != *want {
                disagreements += 1;
            }
        }
        all_total.merge(&total);
        all_rolecall.merge(&kind.samples);
        rows.push(vec![
            kind.set.name.to_string(),
            n.to_string(),
            human(slice.p99()),
            human(decide.p99()),
            human(total.p50()),
            human(total.p99()),
            human(kind.samples.p99()),
            ratio(total.p99(), kind.samples.p99()),
            ratio(decide.p99(), kind.samples.p99()),
        ]);
    }
    // Cedar has no lookup: its closest equivalent is one check per workflow.
    let scale = Scale::LARGE;
    let workflows = scale.apps * scale.workflows_per_app;
    let mut lookups = Samples::default();
    let mut rng = fastrand::Rng::with_seed(17);
    for _ in 0..counts.cedar_lookups {
        let u = user_id(rng.u32(0..scale.users));
        lookups.time(|| {
            (0..workflows)
                .filter(|w| {
                    let c = Check { user: u.clone(), action: "run", resource: workflow(*w) };
                    peer.check(&c).expect("cedar answers")
                })
                .count()
        });
    }
    report.heading("Peer: Cedar (cedar-policy 4.14, same workspace, same checks)");
    report.paragraph(&format!(
        "Grants are attributes of the resource entities, nesting is entity parents; each check is given \
         only the entities it needs (the user, their groups with their parents, the workflow and its app), \
         built per request. Loading every entity took {}. Cedar's answers differ from Rolecall's on \
         {disagreements} checks. `slice` is building that request's entities, `decide` is \
         `is_authorized`; the ratio is Cedar's p99 over Rolecall's p99 for the same checks (first with \
         the slice, then the decision alone: Cedar's very best case).",
        human(loaded)
    ));
    report.table(
        &[
            "kind",
            "checks",
            "slice p99",
            "decide p99",
            "cedar p50",
            "cedar p99",
            "rolecall p99",
            "ratio",
            "ratio, decide only",
        ],
        &rows,
    );
    report.paragraph(&format!(
        "Lookup of resources: Cedar has none; its closest equivalent, one check per workflow ({workflows}), took \
         p50 {} over {} users (Rolecall: the lookup table above).",
        human(lookups.p50()),
        lookups.len()
    ));
    report.target(
        "engine check >= 100x faster than cedar-policy (p99, same checks)",
        ">= 100x".into(),
        ratio(all_total.p99(), all_rolecall.p99()),
        all_total.p99().as_secs_f64() >= 100.0 * all_rolecall.p99().as_secs_f64(),
    );
    report.target(
        "cedar-policy gives the same answers",
        "0 differences".into(),
        disagreements.to_string(),
        disagreements == 0,
    );
}

fn huge(report: &mut Report, counts: Counts) {
    let users = 1_000_000;
    let started = Instant::now();
    let changes = huge_changes(users);
    let mut engine = engine(&changes).expect("the huge workspace applies");
    let applied = started.elapsed();
    drop(changes);
    let mut rng = fastrand::Rng::with_seed(19);
    let index = engine.workspace(WORKSPACE).expect("the bench workspace");
    let mut checks = Samples::default();
    let mut allowed = 0;
    for _ in 0..counts.random_checks {
        let (u, w) = (user_id(rng.u32(0..users)), workflow(rng.u32(0..1_000)));
        allowed += usize::from(checks.time(|| index.check(&u, "run", &w)).expect("check").allowed);
    }
    let mut subjects = Samples::default();
    let mut found = 0;
    for _ in 0..(counts.lookups / 20).max(5) {
        let a = app(rng.u32(0..1_000));
        found = subjects.time(|| index.lookup_subjects(&a, "run").expect("lookup").len());
    }
    let mut resources = Samples::default();
    for _ in 0..counts.lookups {
        let u = user_id(rng.u32(0..users));
        resources.time(|| index.lookup_resources(&u, "run", "workflow").expect("lookup").len());
    }
    let mut removals = Samples::default();
    for i in 0..counts.writes.min(2_000) {
        let change = Change::new(WORKSPACE, Op::RemoveMember { group: "all".into(), user: user_id(i as u32) });
        removals.time(|| engine.apply(&change)).expect("a member leaves");
    }
    report.heading("The huge workspace (engine)");
    report.paragraph(&format!(
        "{users} users, all in one group that has a grant on each of 1,000 apps (with a workflow each); \
         built in {}; this process then held {} MiB resident (with the large workspace's leftovers).",
        human(applied),
        resident_bytes() / (1 << 20)
    ));
    report.latency_table(&[
        ("check through the 1,000,000-member group".into(), &checks, format!("{allowed} allowed")),
        ("lookup subjects (run, app)".into(), &subjects, format!("{found} users found")),
        ("lookup resources (run, workflow)".into(), &resources, "1,000 found".into()),
        ("remove a member of the big group".into(), &removals, String::new()),
    ]);
    report.at_most("engine check p99, huge workspace", checks.p99(), Duration::from_micros(1));
}
