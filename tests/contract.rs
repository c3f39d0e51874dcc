//! The OpenAPI document is the contract: schemathesis (from PyPI, pinned in
//! `tests/requirements.txt`) drives the real server with requests generated
//! from `GET /api/v1/openapi.json` and checks every answer against it.
//!
//! The server runs in-process on port 0 with a fresh in-memory store and a
//! fixed clock, holding a school: an admin, a parent with two children, an
//! approved tutor with a profile and availability, a conversation between
//! them and a booked lesson. Schemathesis then runs once per role (parent,
//! tutor, admin) with that role's bearer token, all its checks, and the
//! examples, coverage and fuzzing phases, with a fixed seed and a bounded
//! number of cases per operation. Any failure it reports — a status code
//! the document does not list, a body that does not match its schema, a
//! schema-valid request refused, an invalid one accepted, a server error —
//! fails this test with schemathesis' report.
//!
//! `POST /api/v1/auth/logout` revokes the token it is called with, so each
//! role runs it alone after everything else.
//!
//! `tests/schemathesis.toml` names the operations whose rules JSON Schema
//! cannot state (a window's `to` after its `from`, a phone number in the
//! numbering plan, a booking's start in the future …); those may answer 422
//! to a schema-valid request, and every other check still holds for them.
//!
//! Schemathesis must be on the PATH: a missing or different version fails
//! the test rather than skipping it (`.ci/run` installs the pin).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::time::{Duration, Instant};

use common::sched::{book_ok, booking, school};
use common::stripe::{FakeStripe, billing_on};
use common::*;

/// The pip requirement CI installs; the test insists on the same version,
/// since a seed reproduces a run only with the same generator.
const REQUIREMENTS: &str = include_str!("requirements.txt");

const OPENAPI: &str = "/api/v1/openapi.json";
const LOGOUT: &str = "/api/v1/auth/logout";
/// Fixed so a failure seen in CI reproduces locally.
const SEED: &str = "1101";
/// Cases per operation in the fuzzing phase; bounds the run's length
/// (about 25 s a role on two cores once the server passes).
const MAX_EXAMPLES: &str = "50";
/// A run that takes longer than this has hung.
const RUN_LIMIT: Duration = Duration::from_secs(600);

fn pinned_version() -> &'static str {
    REQUIREMENTS
        .lines()
        .find_map(|l| l.trim().strip_prefix("schemathesis=="))
        .expect("tests/requirements.txt pins schemathesis==VERSION")
}

/// Fails loudly when schemathesis is missing or not the pinned version.
async fn require_schemathesis() {
    let install = "install it with `pip install -r tests/requirements.txt` (.ci/run does)";
    let out = match tokio::process::Command::new("schemathesis")
        .arg("--version")
        .output()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            panic!("schemathesis cannot be run ({e}): this test needs it on the PATH; {install}")
        }
    };
    let version = String::from_utf8_lossy(&out.stdout);
    let pinned = pinned_version();
    assert!(
        out.status.success() && version.trim().ends_with(&format!("version {pinned}")),
        "this test needs schemathesis {pinned}, found {:?} {}; {install}",
        version.trim(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `arg` as a shell would need it, so a printed command line can be pasted.
fn quoted(arg: &str) -> String {
    if arg.contains(char::is_whitespace) {
        format!("'{arg}'")
    } else {
        arg.to_owned()
    }
}

/// One schemathesis run against `app` as the holder of `token`.
struct Run {
    label: String,
    args: Vec<String>,
    ok: bool,
    report: String,
    took: Duration,
}

async fn schemathesis(app: &TestApp, label: &str, token: &str, filter: [&str; 2]) -> Run {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    let mut args: Vec<String> = [
        "--config-file",
        config,
        "run",
        &format!("{}{OPENAPI}", app.base),
        "--url",
        &app.base,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--header",
        &format!("Authorization: Bearer {token}"),
        "--seed",
        SEED,
        "--max-examples",
        MAX_EXAMPLES,
        // Reports every failing case, not just each operation's first.
        "--continue-on-failure",
        // One worker: hypothesis reads lambdas' source with `ast`, which
        // CPython 3.11 does not allow from two threads at once ("AST
        // constructor recursion depth mismatch", a spurious error).
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(filter.iter().map(|s| (*s).to_owned()));
    let started = Instant::now();
    let child = tokio::process::Command::new("schemathesis")
        .args(&args)
        // Keeps anything schemathesis writes out of the work tree.
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(RUN_LIMIT, child)
        .await
        .unwrap_or_else(|_| panic!("schemathesis ({label}) ran over {RUN_LIMIT:?}"))
        .expect("schemathesis runs");
    Run {
        label: label.to_owned(),
        args,
        ok: out.status.success(),
        report: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        took: started.elapsed(),
    }
}

#[actix_web::test]
async fn the_server_keeps_its_openapi_contract_for_every_role() {
    require_schemathesis().await;
    // Billing on, against the Stripe stand-in: its routes answer as they
    // do in production, not 503.
    let stripe = FakeStripe::start().await;
    let mut config = test_config();
    billing_on(&mut config, &stripe);
    let (app, _clock) = spawn_app_at_with(config, "2027-03-01T09:00:00Z").await;
    let s = school(&app, 2).await;
    app.conversation(&s.parent, &s.tutor).await;
    book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-15T16:00"),
    )
    .await;

    let mut runs = Vec::new();
    for (role, user) in [
        ("parent", &s.parent),
        ("tutor", &s.tutor),
        ("admin", &s.admin),
    ] {
        runs.push(
            schemathesis(
                &app,
                &format!("{role}: every operation but logout"),
                &user.token,
                ["--exclude-path", LOGOUT],
            )
            .await,
        );
        runs.push(
            schemathesis(
                &app,
                &format!("{role}: logout"),
                &user.token,
                ["--include-path", LOGOUT],
            )
            .await,
        );
    }

    // The full reports go to stdout, which the test harness shows when the
    // test fails; the assertion names the failed runs and their totals.
    let mut failed = Vec::new();
    for run in &runs {
        let verdict = if run.ok { "passed" } else { "FAILED" };
        // The totals line: "5,791 generated, 5,791 passed, 34 skipped".
        let generated = run.report.lines().find_map(|l| {
            let (n, _) = l.trim().split_once(" generated, ")?;
            n.replace(',', "").parse::<u64>().ok()
        });
        println!(
            "schemathesis {}: {verdict} in {:.0?}, {} cases",
            run.label,
            run.took,
            generated.map_or("?".into(), |n| n.to_string())
        );
        // A run that generated nothing (a filter or config matching no
        // operation) would pass without checking anything.
        if generated.unwrap_or(0) == 0 {
            failed.push(format!("{}: no cases generated", run.label));
        }
        if !run.ok {
            println!(
                "==== {} ====\nschemathesis {}\n{}",
                run.label,
                run.args
                    .iter()
                    .map(|a| quoted(a))
                    .collect::<Vec<_>>()
                    .join(" "),
                run.report
            );
            let totals = run
                .report
                .lines()
                .rev()
                .find(|l| l.starts_with('='))
                .unwrap_or("no summary")
                .trim_matches(|c: char| c == '=' || c.is_whitespace());
            failed.push(format!("{}: {totals}", run.label));
        }
    }
    assert!(
        failed.is_empty(),
        "schemathesis {} found the server breaking its OpenAPI contract \
         (reports above):\n{}",
        pinned_version(),
        failed.join("\n")
    );
}
