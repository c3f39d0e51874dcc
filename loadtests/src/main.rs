//! `cms-loadtest`: drives the CMS server (or the bare baseline, or
//! nats-server) with named scenarios and reports end-to-end latency,
//! throughput, losses and the server's CPU and memory. Every run is
//! bounded in count and time, targets loopback only, and exits non-zero
//! when anything was lost, duplicated, reordered or refused.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use cms_loadtest::report::Report;
use cms_loadtest::scenario::{self, Server};
use cms_loadtest::world::{Target, World};

#[derive(Parser, Debug)]
#[command(
    name = "cms-loadtest",
    about = "Load generator for the CMS real-time server"
)]
struct Cli {
    /// The system under test.
    #[arg(long, value_enum, default_value = "cms")]
    target: Target,
    /// http://HOST:PORT (cms, bare) or ws://HOST:PORT (nats). Loopback only.
    #[arg(long, default_value = "http://127.0.0.1:4000")]
    url: String,
    /// Accounts written by `cms-server seed` (cms only).
    #[arg(long, default_value = "seed.json")]
    seed: PathBuf,
    /// The server's process id, for CPU and memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Loopback source addresses (127.0.0.1 …) to spread sockets over.
    #[arg(long, default_value_t = 8)]
    sources: u8,
    /// The whole run stops by itself after this long.
    #[arg(long, default_value_t = 900)]
    deadline_secs: u64,
    /// Also append each JSON line to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// Ramp to N sockets, each in its user topic and a conversation.
    Capacity {
        #[arg(long, default_value_t = 1_000)]
        sockets: usize,
        #[arg(long, default_value_t = 4)]
        members: usize,
        #[arg(long, default_value_t = 5.0)]
        hold_secs: f64,
    },
    /// Conversations of K members, M messages a second for T seconds.
    Chat {
        #[arg(long, default_value_t = 500)]
        conversations: usize,
        #[arg(long, default_value_t = 4)]
        members: usize,
        #[arg(long, default_value_t = 1_000.0)]
        rate: f64,
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        #[arg(long, default_value_t = 100)]
        body_bytes: usize,
        /// Then search for the highest rate whose p99 stays within --p99-ms.
        #[arg(long)]
        find_max: bool,
        #[arg(long, default_value_t = 50.0)]
        p99_ms: f64,
        #[arg(long, default_value_t = 200_000.0)]
        max_rate: f64,
    },
    /// A share of the sockets drop and come back with since_seq.
    Reconnect {
        #[arg(long, default_value_t = 500)]
        conversations: usize,
        #[arg(long, default_value_t = 4)]
        members: usize,
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        #[arg(long, default_value_t = 9.0)]
        secs: f64,
        #[arg(long, default_value_t = 0.25)]
        share: f64,
        #[arg(long, default_value_t = 100)]
        body_bytes: usize,
    },
    /// C concurrent bookings of one tutor's hour: exactly one must win.
    BookingRace {
        #[arg(long, default_value_t = 50)]
        requests: usize,
    },
    /// N lessons starting at once, each with its tutor and a parent in the
    /// room, A admins on the board: start → board and video latency.
    LessonRush {
        #[arg(long, default_value_t = 100)]
        lessons: usize,
        #[arg(long, default_value_t = 20)]
        admins: usize,
        /// Booking must be done within this; the slot is the first quarter
        /// hour after it, and the run waits for its start window to open.
        #[arg(long, default_value_t = 120)]
        lead_secs: u64,
        /// How long pushes may trail the starts before they count as lost.
        #[arg(long, default_value_t = 60)]
        drain_secs: u64,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let limit = cms_loadtest::proc_stats::raise_fd_limit();
    eprintln!("open-file limit {limit}");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let deadline = Duration::from_secs(cli.deadline_secs);
    let outcome = runtime.block_on(async { tokio::time::timeout(deadline, run(&cli)).await });
    // Sockets still open are dropped with the runtime, not awaited.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Err(_) => {
            eprintln!("error: the run passed its {} s deadline", cli.deadline_secs);
            std::process::ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
        Ok(Ok(reports)) => {
            let mut ok = true;
            for r in &reports {
                println!("{}", r.summary());
                println!("{}", r.json_line());
                ok &= r.passed();
            }
            if let Some(path) = &cli.json {
                let lines: String = reports.iter().map(|r| r.json_line() + "\n").collect();
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(lines.as_bytes()));
                if let Err(e) = written {
                    eprintln!("error: writing {}: {e}", path.display());
                    ok = false;
                }
            }
            if ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}

fn world(cli: &Cli, conversations: usize, members: usize) -> Result<Arc<World>, String> {
    if !is_loopback(&cli.url) {
        return Err(format!("{} is not a loopback address", cli.url));
    }
    let mut w = match cli.target {
        Target::Cms => {
            let text = std::fs::read(&cli.seed).map_err(|e| {
                format!(
                    "reading {}: {e} (make it with `cms-server seed`)",
                    cli.seed.display()
                )
            })?;
            let seed = serde_json::from_slice(&text)
                .map_err(|e| format!("{}: {e}", cli.seed.display()))?;
            World::seeded(&cli.url, &seed, conversations, members).map_err(|e| e.to_string())?
        }
        t => World::synthetic(t, &cli.url, conversations, members),
    };
    w.sources = cli.sources;
    Ok(Arc::new(w))
}

fn is_loopback(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    host == "localhost" || host.starts_with("127.")
}

async fn run(cli: &Cli) -> Result<Vec<Report>, String> {
    let server = Server {
        pid: cli.server_pid,
    };
    let err = |e: scenario::ScenarioError| scenario::error_chain(&e);
    match &cli.scenario {
        Scenario::Capacity {
            sockets,
            members,
            hold_secs,
        } => {
            let w = world(cli, sockets.div_ceil(*members.max(&1)), *members)?;
            let o = scenario::capacity::CapacityOptions {
                sockets: *sockets,
                hold_secs: *hold_secs,
            };
            scenario::capacity::run(w, server, &o)
                .await
                .map(|r| vec![r])
                .map_err(err)
        }
        Scenario::Chat {
            conversations,
            members,
            rate,
            secs,
            body_bytes,
            find_max,
            p99_ms,
            max_rate,
        } => {
            let w = world(cli, *conversations, *members)?;
            let o = scenario::chat::ChatOptions {
                rate: *rate,
                secs: *secs,
                body_bytes: *body_bytes,
                find_max: *find_max,
                p99_limit_ms: *p99_ms,
                max_rate: *max_rate,
                ..Default::default()
            };
            scenario::chat::run(w, server, &o).await.map_err(err)
        }
        Scenario::Reconnect {
            conversations,
            members,
            rate,
            secs,
            share,
            body_bytes,
        } => {
            let w = world(cli, *conversations, *members)?;
            let o = scenario::reconnect::ReconnectOptions {
                rate: *rate,
                secs: *secs,
                share: *share,
                body_bytes: *body_bytes,
            };
            scenario::reconnect::run(w, server, &o)
                .await
                .map(|r| vec![r])
                .map_err(err)
        }
        Scenario::BookingRace { requests } => {
            let w = world(cli, 0, 2)?;
            let o = scenario::booking_race::RaceOptions {
                requests: *requests,
            };
            scenario::booking_race::run(w, server, &o)
                .await
                .map(|r| vec![r])
                .map_err(err)
        }
        Scenario::LessonRush {
            lessons,
            admins,
            lead_secs,
            drain_secs,
        } => {
            let w = world(cli, 0, 2)?;
            let o = scenario::lesson_rush::RushOptions {
                lessons: *lessons,
                admins: *admins,
                slot: None,
                lead_secs: *lead_secs,
                drain_secs: *drain_secs,
            };
            scenario::lesson_rush::run(w, server, &o)
                .await
                .map(|r| vec![r])
                .map_err(err)
        }
    }
}
