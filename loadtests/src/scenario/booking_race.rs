//! `booking-race`: C booking requests for one tutor's same hour, all at
//! once, each for a different child (families of up to 12). Exactly one
//! may win (201); every other must be told the slot is taken (409).

use std::sync::Arc;
use std::time::Instant;

use chrono::{Datelike, Duration, Utc};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{ScenarioError, Server};
use crate::report::{Percentiles, Report};
use crate::track::Tally;
use crate::world::World;

/// Children per racing family: the server's default cap.
const KIDS_PER_FAMILY: usize = 12;

#[derive(Debug, Clone)]
pub struct RaceOptions {
    pub requests: usize,
}

/// The REST API, for set-up (shared with `lesson-rush`).
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
}

impl Api {
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Result<(u16, Value), ScenarioError> {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req
            .send()
            .await
            .map_err(|e| ScenarioError::Setup(super::error_chain(&e)))?;
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// Calls and insists on `want`; returns the body.
    pub(crate) async fn must(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
        want: u16,
    ) -> Result<Value, ScenarioError> {
        let (status, res) = self.call(method, path, token, body).await?;
        if status != want {
            return Err(ScenarioError::Setup(format!(
                "{path}: HTTP {status}: {res}"
            )));
        }
        Ok(res)
    }

    pub(crate) async fn register(
        &self,
        role: &str,
        tag: &str,
    ) -> Result<(String, String), ScenarioError> {
        let res = self
            .must(
                reqwest::Method::POST,
                "/auth/register",
                None,
                json!({
                    "email": format!("{role}-{tag}@race.test"), "password": "race-password",
                    "name": format!("Race {role}"), "role": role,
                }),
                201,
            )
            .await?;
        let token = res["token"].as_str().unwrap_or_default().to_owned();
        let id = res["user"]["id"].as_str().unwrap_or_default().to_owned();
        Ok((id, token))
    }
}

pub async fn run(
    world: Arc<World>,
    server: Server,
    o: &RaceOptions,
) -> Result<Report, ScenarioError> {
    let admin = world
        .admin_token
        .clone()
        .ok_or_else(|| ScenarioError::Setup("booking-race needs the seed file's admin".into()))?;
    let api = Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(o.requests)
            .build()
            .map_err(|e| ScenarioError::Setup(e.to_string()))?,
        base: world.url.clone(),
    };
    let tag = format!("{}", Utc::now().timestamp_micros());
    let post = reqwest::Method::POST;
    let put = reqwest::Method::PUT;

    // A tutor teaching GCSE Maths every day 08:00–21:00, approved.
    let (tutor_id, tutor) = api.register("tutor", &tag).await?;
    api.must(
        put.clone(),
        "/tutor/profile",
        Some(&tutor),
        json!({
            "bio": "Load runs.", "timezone": "Europe/London", "buffer_min": 0,
            "subjects": [{ "subject": "Maths", "level": "GCSE", "rate_pence": 4000 }]
        }),
        200,
    )
    .await?;
    let weekly: Vec<Value> = (1..=7)
        .map(|d| json!({ "day": d, "start": 8 * 60, "end": 21 * 60 }))
        .collect();
    api.must(
        put.clone(),
        "/tutor/availability",
        Some(&tutor),
        json!({ "weekly": weekly }),
        200,
    )
    .await?;
    api.must(
        put,
        &format!("/admin/tutors/{tutor_id}/status"),
        Some(&admin),
        json!({ "status": "approved" }),
        200,
    )
    .await?;
    // A child per request, in families of at most the server's default
    // `limits.children_per_family`; 200 requests still need fewer sign-ups
    // than one address may make in an hour.
    let mut kids = Vec::with_capacity(o.requests);
    let mut parent = String::new();
    for i in 0..o.requests {
        if i % KIDS_PER_FAMILY == 0 {
            parent = api.register("parent", &format!("{tag}-{i}")).await?.1;
        }
        let res = api
            .must(
                post.clone(),
                "/students",
                Some(&parent),
                json!({ "name": format!("Kid {i}"), "level": "GCSE" }),
                201,
            )
            .await?;
        kids.push((
            parent.clone(),
            res["id"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    // 16:00 London, a week on, on a weekday.
    let mut day = Utc::now().date_naive() + Duration::days(7);
    while day.weekday().number_from_monday() > 5 {
        day += Duration::days(1);
    }
    let start = format!("{day}T16:00");

    let cpu0 = server.cpu();
    let started = Instant::now();
    let api = Arc::new(api);
    let results: Vec<(u16, u64)> = futures_util::stream::iter(kids)
        .map(|(parent, kid)| {
            let (api, tutor_id, start) = (api.clone(), tutor_id.clone(), start.clone());
            async move {
                let t = Instant::now();
                let status = api
                    .call(reqwest::Method::POST, "/bookings", Some(&parent), json!({
                        "tutor_id": tutor_id, "student_ids": [kid], "subject": "Maths", "level": "GCSE",
                        "start": start, "timezone": "Europe/London", "duration_min": 60,
                    }))
                    .await
                    .map_or(0, |(s, _)| s);
                (status, u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX))
            }
        })
        .buffer_unordered(o.requests.max(1))
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    let cpu1 = server.cpu();
    let mut latency = crate::track::latency_histogram()?;
    for (_, us) in &results {
        let _ = latency.record((*us).max(1));
    }
    let won = results.iter().filter(|(s, _)| *s == 201).count();
    let refused = results.iter().filter(|(s, _)| *s == 409).count();
    let other = results.len() - won - refused;
    let tally = Tally {
        sent: results.len() as u64,
        acked: won as u64,
        // Not exactly one winner is a failure, as is any other answer.
        errors: (other + usize::from(won != 1)) as u64,
        ..Tally::default()
    };
    Ok(Report {
        scenario: "booking-race".into(),
        target: world.target.name().into(),
        sockets: 0,
        offered_per_sec: 0.0,
        duration_secs: secs,
        latency_ms: Percentiles::of(&latency),
        deliveries_per_sec: results.len() as f64 / secs.max(1e-9),
        server_cpu_secs_per_1m: None,
        server_rss_kib: server.rss(),
        tally,
        extra: json!({
            "requests": o.requests, "won": won, "conflict_409": refused, "other": other,
            "server_cpu_ms_per_request": match (cpu0, cpu1) {
                (Some(a), Some(b)) => Some((b - a) * 1e3 / results.len().max(1) as f64),
                _ => None,
            },
        }),
    })
}
