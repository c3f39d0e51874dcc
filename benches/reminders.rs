//! `cms-reminder-bench`: the reminder scheduler under a large backlog.
//!
//! Starts the real server (store, registry, scheduler, file outbox) in this
//! process, writes N pending reminder jobs spread evenly over a window that
//! starts a little ahead, wakes the scheduler, and waits until every job is
//! done. Lateness is each job's `done_at − scheduled_at` as the server
//! stored them (every recipient's in-app and email delivery is written
//! before a job is done). Memory is this process's RSS, which holds the
//! whole server, with the jobs pending and at the end (peak).
//!
//! `cargo bench -p cms-server --bench reminders -- --jobs 100000 --spread-secs 300`
//!
//! It writes its backlog with raw SurrealQL through the store's
//! `test-support` feature: the server itself has no such door.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Parser;
use cms_server::config::Config;
use cms_server::startup::Application;
use cms_store::{Store, ts};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(about = "Schedules many reminders and reports fire-time lateness and memory")]
struct Args {
    /// Reminder jobs to schedule.
    #[arg(long, default_value_t = 100_000)]
    jobs: usize,
    /// They fall due evenly over this many seconds.
    #[arg(long, default_value_t = 300)]
    spread_secs: i64,
    /// Lessons the jobs are about (each has one parent and one tutor).
    #[arg(long, default_value_t = 1_000)]
    lessons: usize,
    /// Seconds between the start of seeding and the first due job.
    #[arg(long, default_value_t = 90)]
    lead_secs: i64,
    /// In-app only: the recipients have email switched off.
    #[arg(long)]
    no_email: bool,
    /// `surrealkv` (a temporary directory, synced commits) or `mem`.
    #[arg(long, default_value = "surrealkv")]
    store: String,
}

type BenchError = Box<dyn std::error::Error>;

const BATCH: usize = 2_000;
/// How often the bench counts what is left.
const POLL: Duration = Duration::from_secs(10);

fn main() -> Result<(), BenchError> {
    let args = Args::parse();
    actix_web::rt::System::new().block_on(run(args))
}

/// VmRSS and VmHWM of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn run(args: Args) -> Result<(), BenchError> {
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        ..Config::default()
    };
    config.database.url = match args.store.as_str() {
        "mem" => "mem://".into(),
        _ => format!("surrealkv://{}", dir.path().join("db").display()),
    };
    config.auth.secret = Some("bench".into());
    config.log.filter = "warn".into();
    config.email.outbox_dir = dir.path().join("outbox").display().to_string();
    let app = Application::build(config).await?;
    let store = app.store();
    let notifier = app.notifier();
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());

    let (rss_start, _) = memory_kib();
    let seeding = Instant::now();
    let t0 = Utc::now() + chrono::Duration::seconds(args.lead_secs);
    seed(&store, &args, t0).await?;
    let seeded_in = seeding.elapsed();
    let (rss_pending, _) = memory_kib();
    if Utc::now() > t0 {
        eprintln!("warning: seeding overran the lead; raise --lead-secs");
    }
    println!(
        "seeded {} jobs over {} lessons in {:.1} s; first due in {} s",
        args.jobs,
        args.lessons,
        seeded_in.as_secs_f64(),
        (t0 - Utc::now()).num_seconds()
    );
    notifier.wake();

    let limit = Instant::now()
        + Duration::from_secs(u64::try_from(args.lead_secs + args.spread_secs).unwrap_or(0) + 1800);
    // The count scans the table, so it is taken rarely and timed: its cost
    // is the bench's, not the scheduler's.
    let mut polls = Duration::ZERO;
    loop {
        let t = Instant::now();
        let pending = count(&store, "status = 'pending'").await?;
        polls += t.elapsed();
        let done = args.jobs as i64 - pending;
        eprintln!("{done}/{} done", args.jobs);
        if pending == 0 {
            break;
        }
        if Instant::now() > limit {
            return Err(format!("gave up with {pending} jobs pending").into());
        }
        actix_web::rt::time::sleep(POLL).await;
    }
    let (rss_end, hwm) = memory_kib();
    println!("progress counts took {:.1} s in all", polls.as_secs_f64());
    let outcomes = store
        .execute(
            "SELECT status, note, count() AS n FROM notify_job GROUP BY status, note",
            json!({}),
            0,
        )
        .await?;
    println!("outcomes: {outcomes}");
    let rows = store
        .execute(
            "SELECT VALUE [scheduled_at, done_at, status] FROM notify_job",
            json!({}),
            0,
        )
        .await?;
    let mut late = Histogram::<u64>::new(3)?;
    let mut not_sent = 0;
    let (mut first_due, mut last_done): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
        (None, None);
    for r in rows.as_array().into_iter().flatten() {
        let at = |i: usize| r[i].as_str().and_then(|s| s.parse::<DateTime<Utc>>().ok());
        if r[2] != "sent" {
            not_sent += 1;
            continue;
        }
        if let (Some(due), Some(done)) = (at(0), at(1)) {
            first_due = Some(first_due.map_or(due, |t| t.min(due)));
            last_done = Some(last_done.map_or(done, |t| t.max(done)));
            late.record(u64::try_from((done - due).num_milliseconds()).unwrap_or(0))?;
        }
    }
    let outbox = std::fs::read_dir(dir.path().join("outbox"))
        .map(|d| d.count())
        .unwrap_or(0);
    let rate = args.jobs as f64 / args.spread_secs.max(1) as f64;
    // Jobs finished per second from the first due time to the last done.
    let span_ms = match (first_due, last_done) {
        (Some(a), Some(b)) => (b - a).num_milliseconds().max(1),
        _ => 1,
    };
    let throughput = (args.jobs - not_sent) as f64 * 1000.0 / span_ms as f64;
    println!(
        "reminders: {} jobs due at {rate:.0}/s on {}: lateness p50 {} ms, p99 {} ms, max {} ms; \
         {not_sent} not sent; {outbox} emails written; {throughput:.0} jobs/s done",
        args.jobs,
        args.store,
        late.value_at_quantile(0.5),
        late.value_at_quantile(0.99),
        late.max(),
    );
    println!(
        "memory: RSS {} MiB at start, {} MiB with the jobs pending, {} MiB at the end, peak {} MiB",
        rss_start / 1024,
        rss_pending / 1024,
        rss_end / 1024,
        hwm / 1024
    );
    println!(
        "{}",
        json!({
            "scenario": "reminders", "store": args.store, "jobs": args.jobs,
            "due_per_sec": rate, "lateness_ms": {
                "p50": late.value_at_quantile(0.5), "p90": late.value_at_quantile(0.9),
                "p99": late.value_at_quantile(0.99), "max": late.max(),
            },
            "not_sent": not_sent, "emails": outbox, "jobs_per_sec": throughput,
            "rss_kib": { "start": rss_start, "pending": rss_pending, "end": rss_end, "peak": hwm },
        })
    );
    handle.stop().await;
    Ok(())
}

async fn count(store: &Store, filter: &str) -> Result<i64, BenchError> {
    let v = store
        .execute(
            &format!("SELECT count() AS n FROM notify_job WHERE {filter} GROUP ALL"),
            json!({}),
            0,
        )
        .await?;
    // No matching row at all: nothing left.
    Ok(v.get(0).and_then(|r| r["n"].as_i64()).unwrap_or(0))
}

/// A family, a tutor and `lessons` booked lessons after the window, then
/// the jobs, due evenly over it.
async fn seed(store: &Store, args: &Args, t0: DateTime<Utc>) -> Result<(), BenchError> {
    let now = ts(Utc::now());
    store
        .execute(
            "CREATE family:bench SET created_at = <datetime>$now;
             CREATE user:bench_parent CONTENT { email: 'parent@bench.test', password_hash: '$argon2-none',
                 name: 'Bench Parent', role: 'parent', timezone: 'Europe/London', family: family:bench,
                 created_at: <datetime>$now };
             CREATE user:bench_tutor CONTENT { email: 'tutor@bench.test', password_hash: '$argon2-none',
                 name: 'Bench Tutor', role: 'tutor', timezone: 'Europe/London', created_at: <datetime>$now };
             CREATE student:bench CONTENT { family: family:bench, name: 'Bench Kid', level: 'GCSE',
                 created_at: <datetime>$now };",
            json!({ "now": now }),
            0,
        )
        .await?;
    if args.no_email {
        let off =
            json!({ "reminder": false, "booked": false, "cancelled": false, "rescheduled": false });
        store
            .execute(
                "UPDATE user SET notify = { email: $off, sms: $off }",
                json!({ "off": off }),
                0,
            )
            .await?;
    }
    let start = t0 + chrono::Duration::seconds(args.spread_secs + 3600);
    let lessons: Vec<Value> = (0..args.lessons)
        .map(|i| {
            let s = start + chrono::Duration::hours(i as i64);
            json!({ "id": format!("bench{i}"), "start": ts(s), "end": ts(s + chrono::Duration::hours(1)),
                    "local": s.format("%Y-%m-%dT%H:%M:%S").to_string() })
        })
        .collect();
    for chunk in lessons.chunks(BATCH) {
        store
            .execute(
                "FOR $l IN $lessons {
                    CREATE type::record('lesson', $l.id) CONTENT {
                        tutor: user:bench_tutor, students: [student:bench], families: [family:bench],
                        kind: 'one_to_one', subject: subject:maths_gcse,
                        starts_at: <datetime>$l.start, ends_at: <datetime>$l.end,
                        timezone: 'Europe/London', local_start: $l.local, duration_min: 60,
                        buffer_min: 0, price_pence: 4000, status: 'booked', booked_by: user:bench_parent,
                        version: 1, created_at: <datetime>$now, updated_at: <datetime>$now
                    } RETURN NONE;
                 }",
                json!({ "lessons": chunk, "now": now }),
                0,
            )
            .await?;
    }
    let spread_ms = args.spread_secs * 1000;
    let jobs: Vec<Value> = (0..args.jobs)
        .map(|i| {
            let due = t0 + chrono::Duration::milliseconds(spread_ms * i as i64 / args.jobs.max(1) as i64);
            json!({ "key": format!("bench{i}.r1440"), "lesson": format!("bench{}", i % args.lessons.max(1)),
                    "due": ts(due) })
        })
        .collect();
    for chunk in jobs.chunks(BATCH) {
        store
            .execute(
                "FOR $j IN $jobs {
                    CREATE type::record('notify_job', $j.key) CONTENT {
                        kind: 'reminder', lesson: type::record('lesson', $j.lesson),
                        lessons: [type::record('lesson', $j.lesson)], families: [], offset_min: 1440,
                        due_at: <datetime>$j.due, scheduled_at: <datetime>$j.due, status: 'pending',
                        created_at: <datetime>$now
                    } RETURN NONE;
                 }",
                json!({ "jobs": chunk, "now": now }),
                0,
            )
            .await?;
    }
    Ok(())
}
