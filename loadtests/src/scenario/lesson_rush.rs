//! `lesson-rush`: N lessons starting at the same minute (the 16:00 peak),
//! each with its tutor and a parent in the lesson's room `session:<id>`,
//! and A admins watching `admin:monitor`. Every tutor sends `lesson:start`
//! at once; measured is the time from each tutor's push to (a) the
//! `board:lesson` push with `change: "started"` for that lesson on every
//! admin socket and (b) `video:ready` on that lesson's parent socket.
//!
//! Set-up (accounts, approvals, availability, children, bookings, sockets)
//! goes over the API and the socket before the clock starts. Against a
//! real-time server the lessons start at the first quarter hour at least
//! `lead_secs` away, and the run waits until their start window opens (a
//! lesson may be started from `room_opens_min`, 10 minutes, before its
//! start) and the server's timers have opened the rooms; a caller whose server's clock already stands in the window
//! (a test's manual clock) names the slot instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, SecondsFormat, Utc};
use cms_protocol::{Frame, ReplyStatus, Topic};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::booking_race::Api;
use super::{RAMP, ScenarioError, Server};
use crate::client::{EventHook, PhxClient, socket_url};
use crate::report::{Percentiles, Report};
use crate::track::Tally;
use crate::world::World;

/// REST set-up requests in flight at once.
const SETUP_AT_ONCE: usize = 32;
/// The server's default `lessons.room_opens_min`.
const ROOM_OPENS: chrono::Duration = chrono::Duration::minutes(10);
/// Lessons are short so any quarter hour of the day fits in one day's
/// availability.
const DURATION_MIN: u32 = 15;
/// Against the real clock, how long after the window opens the starts
/// wait: the server's timers open every room (`opened`, one transaction
/// and push per lesson) as the window opens, which the measured part
/// should not overlap.
const SETTLE: chrono::Duration = chrono::Duration::seconds(30);
/// Phoenix closes a socket silent for 60 s.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct RushOptions {
    pub lessons: usize,
    pub admins: usize,
    /// The lessons' start, when the caller knows the server's clock is in
    /// its start window; otherwise the next quarter hour at least
    /// `lead_secs` from now, and the run waits for its window.
    pub slot: Option<DateTime<Utc>>,
    /// How long booking may take before the slot is in the past.
    pub lead_secs: u64,
    /// How long pushes may trail the last start before they count as lost.
    pub drain_secs: u64,
}

impl Default for RushOptions {
    fn default() -> Self {
        Self {
            lessons: 100,
            admins: 20,
            slot: None,
            lead_secs: 120,
            drain_secs: 60,
        }
    }
}

/// One lesson of the run and its two people.
struct Lesson {
    id: String,
    tutor_token: String,
    parent_token: String,
}

/// What the reader tasks record as pushes arrive.
struct Observed {
    /// Lesson id → index, once booked.
    index: OnceLock<HashMap<String, usize>>,
    /// When each tutor's `lesson:start` left.
    sent: Vec<OnceLock<Instant>>,
    /// Admin `a`, lesson `i` at `a * lessons + i`.
    board_seen: Vec<AtomicBool>,
    video_seen: Vec<AtomicBool>,
    board: Mutex<Histogram<u64>>,
    video: Mutex<Histogram<u64>>,
    board_count: AtomicU64,
    video_count: AtomicU64,
    duplicated: AtomicU64,
    /// Pushes for a lesson whose start was not sent yet.
    early: AtomicU64,
}

impl Observed {
    fn lessons(&self) -> usize {
        self.sent.len()
    }

    /// The latency of lesson `i`'s push, unless it is a duplicate or early.
    fn elapsed_us(&self, i: usize, seen: Option<&AtomicBool>) -> Option<u64> {
        let seen = seen?;
        let Some(t0) = self.sent.get(i).and_then(OnceLock::get) else {
            self.early.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        if seen.swap(true, Ordering::Relaxed) {
            self.duplicated.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    fn on_board(&self, admin: usize, f: &Frame) {
        if f.event != "board:lesson" || f.payload["change"] != "started" {
            return;
        }
        let Some(&i) = f.payload["lesson"]["id"]
            .as_str()
            .and_then(|id| self.index.get()?.get(id))
        else {
            return;
        };
        let seen = self.board_seen.get(admin * self.lessons() + i);
        if let Some(us) = self.elapsed_us(i, seen) {
            let _ = lock(&self.board).record(us.max(1));
            self.board_count.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_parent(&self, i: usize, f: &Frame) {
        if f.event != "video:ready" {
            return;
        }
        if let Some(us) = self.elapsed_us(i, self.video_seen.get(i)) {
            let _ = lock(&self.video).record(us.max(1));
            self.video_count.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn setup(e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::Setup(e.to_string())
}

/// The first quarter hour at or after `t`.
pub fn next_quarter(t: DateTime<Utc>) -> DateTime<Utc> {
    let q = chrono::Duration::minutes(15);
    match t.duration_trunc(q) {
        Ok(f) if f == t => f,
        Ok(f) => f + q,
        Err(_) => t,
    }
}

pub async fn run(
    world: Arc<World>,
    server: Server,
    o: &RushOptions,
) -> Result<Report, ScenarioError> {
    let n = o.lessons.max(1);
    let admin = world
        .admin_token
        .clone()
        .ok_or_else(|| setup("lesson-rush needs the seed file's admin"))?;
    let api = Arc::new(Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(SETUP_AT_ONCE)
            // Below the server's keep-alive (5 s): a connection it is
            // closing is never picked for a POST, which cannot be retried.
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .map_err(setup)?,
        base: world.url.clone(),
    });
    let tag = format!("rush{}", Utc::now().timestamp_micros());
    let setup_started = Instant::now();
    let observed = Arc::new(Observed {
        index: OnceLock::new(),
        sent: (0..n).map(|_| OnceLock::new()).collect(),
        board_seen: (0..n * o.admins).map(|_| AtomicBool::new(false)).collect(),
        video_seen: (0..n).map(|_| AtomicBool::new(false)).collect(),
        board: Mutex::new(crate::track::latency_histogram()?),
        video: Mutex::new(crate::track::latency_histogram()?),
        board_count: AtomicU64::new(0),
        video_count: AtomicU64::new(0),
        duplicated: AtomicU64::new(0),
        early: AtomicU64::new(0),
    });

    // The admins watch the board from the start, so their join's snapshot
    // is small: sockets 2n + a.
    let boards: Vec<(usize, String, String, EventHook)> = (0..o.admins)
        .map(|a| {
            let obs = observed.clone();
            let hook: EventHook = Arc::new(move |f: Frame| obs.on_board(a, &f));
            (
                2 * n + a,
                admin.clone(),
                Topic::AdminMonitor.to_string(),
                hook,
            )
        })
        .collect();
    let admins = open_all(&world, boards).await?;
    let admin_beats = heartbeats(admins.clone());

    // N approved tutors, free all day every day; N parents with a child each.
    let tutors: Vec<Result<(String, String), ScenarioError>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let (api, admin, tag) = (api.clone(), admin.clone(), tag.clone());
            async move { approved_tutor(&api, &admin, &format!("{tag}-{i}")).await }
        })
        .buffered(SETUP_AT_ONCE)
        .collect()
        .await;
    let tutors: Vec<(String, String)> = tutors.into_iter().collect::<Result<_, _>>()?;
    let parents: Vec<Result<(String, String), ScenarioError>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let (api, tag) = (api.clone(), tag.clone());
            async move { parent_with_child(&api, &format!("{tag}-{i}")).await }
        })
        .buffered(SETUP_AT_ONCE)
        .collect()
        .await;
    let parents: Vec<(String, String)> = parents.into_iter().collect::<Result<_, _>>()?;

    // One booking per lesson, all at the same start.
    let slot = match o.slot {
        Some(s) => s,
        None => next_quarter(Utc::now() + chrono::Duration::seconds(o.lead_secs as i64)),
    };
    let start = slot.to_rfc3339_opts(SecondsFormat::Secs, true);
    let booked: Vec<Result<Lesson, ScenarioError>> =
        futures_util::stream::iter(tutors.into_iter().zip(parents))
            .map(|((tutor_id, tutor_token), (parent_token, kid))| {
                let (api, start) = (api.clone(), start.clone());
                async move {
                    let res = api
                        .must(
                            reqwest::Method::POST,
                            "/bookings",
                            Some(&parent_token),
                            json!({
                                "tutor_id": tutor_id, "student_ids": [kid], "subject": "Maths",
                                "level": "GCSE", "start": start, "timezone": "Europe/London",
                                "duration_min": DURATION_MIN,
                            }),
                            201,
                        )
                        .await?;
                    let id = res["occurrences"][0]["id"]
                        .as_str()
                        .ok_or_else(|| setup(format!("a booking without a lesson id: {res}")))?
                        .to_owned();
                    Ok(Lesson {
                        id,
                        tutor_token,
                        parent_token,
                    })
                }
            })
            .buffered(SETUP_AT_ONCE)
            .collect()
            .await;
    let lessons: Vec<Lesson> = booked.into_iter().collect::<Result<_, _>>()?;
    let _ = observed.index.set(
        lessons
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.clone(), i))
            .collect(),
    );
    let booked_secs = setup_started.elapsed().as_secs_f64();

    // Against the real clock, wait for the start window to open.
    let mut waited_secs = 0.0;
    if o.slot.is_none() {
        let opens = slot - ROOM_OPENS + SETTLE;
        if let Ok(wait) = (opens - Utc::now()).to_std() {
            eprintln!(
                "[lesson-rush] {n} lessons booked at {start}; waiting {:.0} s for their start window",
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
            waited_secs = wait.as_secs_f64();
        }
    }

    // Room sockets: the tutor of lesson i is socket 2i, its parent 2i + 1.
    let ignore: EventHook = Arc::new(|_| {});
    let mut wanted: Vec<(usize, String, String, EventHook)> = Vec::with_capacity(2 * n);
    for (i, l) in lessons.iter().enumerate() {
        let room = Topic::Session(l.id.as_str().into()).to_string();
        wanted.push((2 * i, l.tutor_token.clone(), room.clone(), ignore.clone()));
        let obs = observed.clone();
        wanted.push((
            2 * i + 1,
            l.parent_token.clone(),
            room,
            Arc::new(move |f: Frame| obs.on_parent(i, &f)),
        ));
    }
    let clients = open_all(&world, wanted).await?;
    let beats = heartbeats(clients.clone());
    let setup_secs = setup_started.elapsed().as_secs_f64();

    // Measured: every tutor starts at once.
    let cpu0 = server.cpu();
    let started = Instant::now();
    let starts = lessons.iter().enumerate().map(|(i, l)| {
        let tutor = clients.get(2 * i).cloned();
        let room = Topic::Session(l.id.as_str().into()).to_string();
        let obs = observed.clone();
        async move {
            let Some(tutor) = tutor else {
                return Err("no tutor socket".to_owned());
            };
            if let Some(t) = obs.sent.get(i) {
                let _ = t.set(Instant::now());
            }
            match tutor.push(&room, "lesson:start", json!({})).await {
                Ok(r) if r.status == ReplyStatus::Ok => Ok(()),
                Ok(r) => Err(format!("lesson:start refused: {}", r.response)),
                Err(e) => Err(super::error_chain(&e)),
            }
        }
    });
    let replies = futures_util::future::join_all(starts).await;
    let acked = replies.iter().filter(|r| r.is_ok()).count();
    let start_error = replies.iter().find_map(|r| r.as_ref().err().cloned());
    let expected = (n * o.admins + n) as u64;
    let deadline = Instant::now() + Duration::from_secs(o.drain_secs);
    let delivered = || {
        observed.board_count.load(Ordering::Relaxed) + observed.video_count.load(Ordering::Relaxed)
    };
    while delivered() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu1 = server.cpu();
    let rss = server.rss();
    beats.abort();
    admin_beats.abort();
    futures_util::stream::iter(clients.into_iter().chain(admins))
        .for_each_concurrent(RAMP, |c| async move { c.close().await })
        .await;

    let board = Percentiles::of(&lock(&observed.board));
    let video = Percentiles::of(&lock(&observed.video));
    let delivered = delivered();
    let duplicated = observed.duplicated.load(Ordering::Relaxed);
    let early = observed.early.load(Ordering::Relaxed);
    let tally = Tally {
        sent: n as u64,
        acked: acked as u64,
        expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        duplicated,
        errors: (n - acked) as u64 + early,
        ..Tally::default()
    };
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok(Report {
        scenario: "lesson-rush".into(),
        target: world.target.name().into(),
        sockets: 2 * n + o.admins,
        offered_per_sec: 0.0,
        duration_secs: secs,
        // The headline is (a), the admins' board; (b) is in `extra`.
        latency_ms: board,
        deliveries_per_sec: delivered as f64 / secs.max(1e-9),
        server_cpu_secs_per_1m: cpu.map(|c| c * 1e6 / (delivered.max(1) as f64)),
        server_rss_kib: rss,
        tally,
        extra: json!({
            "lessons": n, "admins": o.admins, "slot": start,
            "board_started_ms": board, "video_ready_ms": video,
            "board_pushes": observed.board_count.load(Ordering::Relaxed),
            "video_pushes": observed.video_count.load(Ordering::Relaxed),
            "starts_ok": acked, "first_start_error": start_error, "early_pushes": early,
            "server_cpu_ms": cpu.map(|c| c * 1e3),
            "setup_secs": setup_secs, "booking_setup_secs": booked_secs,
            "waited_for_window_secs": waited_secs,
        }),
    })
}

/// Registers a tutor teaching GCSE Maths all day every day (their zone),
/// approved by the admin: (id, token).
async fn approved_tutor(
    api: &Api,
    admin: &str,
    tag: &str,
) -> Result<(String, String), ScenarioError> {
    let put = reqwest::Method::PUT;
    let (id, token) = api.register("tutor", tag).await?;
    api.must(
        put.clone(),
        "/tutor/profile",
        Some(&token),
        json!({
            "bio": "Load runs.", "timezone": "Europe/London", "buffer_min": 0,
            "subjects": [{ "subject": "Maths", "level": "GCSE", "rate_pence": 4000 }]
        }),
        200,
    )
    .await?;
    let weekly: Vec<Value> = (1..=7)
        .map(|d| json!({ "day": d, "start": 0, "end": 24 * 60 }))
        .collect();
    api.must(
        put.clone(),
        "/tutor/availability",
        Some(&token),
        json!({ "weekly": weekly }),
        200,
    )
    .await?;
    api.must(
        put,
        &format!("/admin/tutors/{id}/status"),
        Some(admin),
        json!({ "status": "approved" }),
        200,
    )
    .await?;
    Ok((id, token))
}

/// Registers a parent and adds a child: (token, child id).
async fn parent_with_child(api: &Api, tag: &str) -> Result<(String, String), ScenarioError> {
    let (_, token) = api.register("parent", tag).await?;
    let res = api
        .must(
            reqwest::Method::POST,
            "/students",
            Some(&token),
            json!({ "name": "Rush Kid", "level": "GCSE" }),
            201,
        )
        .await?;
    let kid = res["id"]
        .as_str()
        .ok_or_else(|| setup(format!("a child without an id: {res}")))?
        .to_owned();
    Ok((token, kid))
}

/// Opens every socket of `wanted` (socket number, token, topic, hook), in
/// its order, or says how many failed and why.
async fn open_all(
    world: &Arc<World>,
    wanted: Vec<(usize, String, String, EventHook)>,
) -> Result<Vec<Arc<PhxClient>>, ScenarioError> {
    let total = wanted.len();
    let mut opened: Vec<(usize, Result<PhxClient, String>)> =
        futures_util::stream::iter(wanted.into_iter().enumerate())
            .map(|(k, (r, token, topic, hook))| {
                let w = world.clone();
                async move { (k, open(&w, r, &token, &topic, hook).await) }
            })
            .buffer_unordered(RAMP)
            .collect()
            .await;
    opened.sort_by_key(|(k, _)| *k);
    let mut clients = Vec::with_capacity(total);
    let mut failed = 0;
    let mut first_error = None;
    for (_, res) in opened {
        match res {
            Ok(c) => clients.push(Arc::new(c)),
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    if failed > 0 {
        return Err(setup(format!(
            "{failed} of {total} sockets failed to open: {}",
            first_error.unwrap_or_default()
        )));
    }
    Ok(clients)
}

/// Beats on every socket until aborted.
fn heartbeats(clients: Vec<Arc<PhxClient>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT_EVERY).await;
            for c in &clients {
                let _ = c.heartbeat().await;
            }
        }
    })
}

/// Opens socket `r` and joins `topic`, insisting on `ok`.
async fn open(
    world: &World,
    r: usize,
    token: &str,
    topic: &str,
    hook: EventHook,
) -> Result<PhxClient, String> {
    let url = socket_url(&world.url, token);
    let c = PhxClient::connect_from(&url, world.source(r), hook)
        .await
        .map_err(|e| super::error_chain(&e))?;
    let reply = c
        .join(topic, json!({}))
        .await
        .map_err(|e| super::error_chain(&e))?;
    if reply.status != ReplyStatus::Ok {
        return Err(format!("joining {topic}: {}", reply.response));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_is_the_next_quarter_hour() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_default();
        assert_eq!(
            next_quarter(t("2026-11-23T19:13:27Z")),
            t("2026-11-23T19:15:00Z")
        );
        assert_eq!(
            next_quarter(t("2026-11-23T19:15:00Z")),
            t("2026-11-23T19:15:00Z")
        );
        assert_eq!(
            next_quarter(t("2026-11-23T23:50:01Z")),
            t("2026-11-24T00:00:00Z")
        );
    }
}
