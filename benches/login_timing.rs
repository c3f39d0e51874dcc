//! Login timing: does the answer's time tell whether an email has an
//! account? Starts the real server (in-memory store) in this process,
//! registers one account, then times wrong-password logins for that email
//! and for emails with no account, interleaved so drift hits both alike,
//! plus right-password logins for reference. Each is a full HTTP round
//! trip over loopback. The login throttle is set out of reach: this
//! measures the work, not the waits.
//!
//! `cargo bench -p cms-server --bench login_timing -- --rounds 200`
//!
//! It prints a Markdown table for BENCHMARKS.md and exits non-zero when the
//! two wrong-password medians are more than `--max-ratio` apart.

use std::time::{Duration, Instant};

use clap::Parser;
use cms_server::config::Config;
use cms_server::startup::Application;
use hdrhistogram::Histogram;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Times logins for known and unknown emails")]
struct Args {
    /// Logins of each kind.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// Untimed logins of each kind first (warm caches, the dummy hash).
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Largest acceptable ratio between the two wrong-password medians.
    #[arg(long, default_value_t = 2.0)]
    max_ratio: f64,
    /// Passed by `cargo bench`; nothing to do with it.
    #[arg(long, hide = true)]
    bench: bool,
}

type BenchError = Box<dyn std::error::Error>;

const PASSWORD: &str = "a benchmark passphrase";
const KNOWN: &str = "known-user@bench.test";

fn main() -> Result<(), BenchError> {
    let args = Args::parse();
    actix_web::rt::System::new().block_on(run(args))
}

async fn run(args: Args) -> Result<(), BenchError> {
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        ..Config::default()
    };
    config.database.url = "mem://".into();
    config.auth.secret = Some("bench-secret".into());
    config.log.filter = "error".into();
    config.limits.login_failures_before_backoff = u32::MAX;
    let app = Application::build(config).await?;
    let base = format!("http://127.0.0.1:{}/api/v1", app.port());
    actix_web::rt::spawn(app.run_until_stopped());

    let http = reqwest::Client::new();
    let status = http
        .post(format!("{base}/auth/register"))
        .json(&json!({ "email": KNOWN, "password": PASSWORD, "name": "Bench", "role": "parent" }))
        .send()
        .await?
        .status();
    if status.as_u16() != 201 {
        return Err(format!("register answered {status}").into());
    }

    let login = |email: String, password: &'static str, want: u16| {
        let (http, url) = (http.clone(), format!("{base}/auth/login"));
        async move {
            let start = Instant::now();
            let res = http
                .post(url)
                .json(&json!({ "email": email, "password": password }))
                .send()
                .await?;
            let status = res.status().as_u16();
            res.bytes().await?;
            let took = start.elapsed();
            if status != want {
                return Err::<Duration, BenchError>(
                    format!("login for {email} answered {status}, wanted {want}").into(),
                );
            }
            Ok(took)
        }
    };

    let mut known = Histogram::<u64>::new(3)?;
    let mut unknown = Histogram::<u64>::new(3)?;
    let mut right = Histogram::<u64>::new(3)?;
    for i in 0..(args.warmup + args.rounds) {
        let k = login(KNOWN.into(), "the wrong passphrase", 401).await?;
        let u = login(
            format!("nobody-{i}@bench.test"),
            "the wrong passphrase",
            401,
        )
        .await?;
        let r = login(KNOWN.into(), PASSWORD, 200).await?;
        if i >= args.warmup {
            known.record(k.as_micros() as u64)?;
            unknown.record(u.as_micros() as u64)?;
            right.record(r.as_micros() as u64)?;
        }
    }

    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    println!(
        "login timing, {} rounds, {profile} profile, {} cores",
        args.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| login | median ms | p90 ms | p99 ms | mean ms |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, h) in [
        ("known email, wrong password (401)", &known),
        ("unknown email (401)", &unknown),
        ("known email, right password (200)", &right),
    ] {
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
            ms(h, 0.5),
            ms(h, 0.9),
            ms(h, 0.99),
            h.mean() / 1000.0
        );
    }
    let (a, b) = (ms(&known, 0.5), ms(&unknown, 0.5));
    let ratio = a.max(b) / a.min(b).max(0.001);
    println!();
    println!("ratio of the 401 medians: {ratio:.2}");
    if ratio > args.max_ratio {
        return Err(format!(
            "the 401 medians are {ratio:.2}x apart (max {})",
            args.max_ratio
        )
        .into());
    }
    Ok(())
}
