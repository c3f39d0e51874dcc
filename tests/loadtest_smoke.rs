//! Every load scenario, small and short, against the real server: a few
//! hundred sockets for a few seconds, nothing lost, duplicated or
//! reordered. The full runs are `loadtests/run.sh`'s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;

use cms_loadtest::scenario::{self, Server};
use cms_loadtest::world::World;
use cms_server::auth::TokenKeys;
use cms_server::seed::{SeedSpec, seed};
use common::*;

/// 50 conversations of 4: 200 sockets.
const CONVERSATIONS: usize = 50;
const MEMBERS: usize = 4;

async fn world(app: &TestApp) -> Arc<World> {
    let seeded = seed(
        app.store.as_ref().unwrap(),
        &TokenKeys::new(b"test-secret"),
        SeedSpec {
            conversations: CONVERSATIONS,
            members: MEMBERS,
            token_ttl: chrono::Duration::hours(1),
        },
        "smoke",
        chrono::Utc::now(),
    )
    .await
    .expect("seeded");
    assert_eq!(seeded.conversations.len(), CONVERSATIONS);
    assert!(
        seeded
            .conversations
            .iter()
            .all(|c| c.members.len() == MEMBERS)
    );
    // What the server writes, read with the load generator's own types.
    let seeded = serde_json::from_value(serde_json::to_value(&seeded).unwrap()).unwrap();
    Arc::new(World::seeded(&app.base, &seeded, CONVERSATIONS, MEMBERS).unwrap())
}

fn server() -> Server {
    // The server runs in this process.
    Server {
        pid: Some(std::process::id()),
    }
}

#[actix_web::test]
async fn capacity_opens_every_socket_in_two_topics() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let o = scenario::capacity::CapacityOptions {
        sockets: CONVERSATIONS * MEMBERS,
        hold_secs: 0.5,
    };
    let r = scenario::capacity::run(w, server(), &o).await.unwrap();
    assert!(r.passed(), "{}", r.summary());
    assert_eq!(r.sockets, CONVERSATIONS * MEMBERS);
    assert_eq!(r.latency_ms.count, (CONVERSATIONS * MEMBERS) as u64);
    assert!(r.server_rss_kib.unwrap() > 0);
}

#[actix_web::test]
async fn chat_delivers_every_stored_message_to_every_member_once() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let o = scenario::chat::ChatOptions {
        rate: 200.0,
        secs: 2.0,
        ..Default::default()
    };
    let reports = scenario::chat::run(w, server(), &o).await.unwrap();
    let r = &reports[0];
    assert!(r.passed(), "{}", r.summary());
    let t = r.tally;
    assert_eq!(t.sent, 400);
    assert_eq!(t.acked, 400);
    assert_eq!(t.expected, 400 * MEMBERS as u64);
    assert_eq!(t.delivered, t.expected);
    assert_eq!(r.latency_ms.count, t.delivered);
    // Every message is in the store too.
    let stored = app
        .store
        .as_ref()
        .unwrap()
        .execute(
            "SELECT count() AS n FROM message GROUP ALL",
            serde_json::json!({}),
            0,
        )
        .await
        .unwrap();
    assert_eq!(stored[0]["n"], 400);
}

#[actix_web::test]
async fn reconnecting_sockets_get_every_missed_message_exactly_once() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // An earlier run leaves history behind; this run must count only its own.
    let earlier = scenario::chat::ChatOptions {
        rate: 100.0,
        secs: 0.5,
        ..Default::default()
    };
    let r = scenario::chat::run(w.clone(), server(), &earlier)
        .await
        .unwrap();
    assert!(r[0].passed(), "{}", r[0].summary());
    let o = scenario::reconnect::ReconnectOptions {
        rate: 150.0,
        secs: 3.0,
        share: 0.25,
        body_bytes: 60,
    };
    let r = scenario::reconnect::run(w, server(), &o).await.unwrap();
    assert!(r.passed(), "{}", r.summary());
    assert_eq!(r.extra["dropped"], 50);
    assert_eq!(r.extra["reconnected"], 50);
    assert!(r.tally.recovered > 0, "{}", r.summary());
    assert_eq!(r.tally.delivered + r.tally.recovered, r.tally.expected);
}

#[actix_web::test]
async fn a_booking_race_has_exactly_one_winner() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let o = scenario::booking_race::RaceOptions { requests: 20 };
    let r = scenario::booking_race::run(w, server(), &o).await.unwrap();
    assert!(r.passed(), "{}", r.summary());
    assert_eq!(r.extra["won"], 1);
    assert_eq!(r.extra["conflict_409"], 19);
}

#[actix_web::test]
async fn a_lesson_rush_tells_every_admin_and_parent_of_every_start() {
    // The server's clock stands five minutes before the lessons' quarter
    // hour: booking it is still ahead, and its start window is open.
    let slot = scenario::lesson_rush::next_quarter(chrono::Utc::now() + chrono::Duration::hours(1));
    let now = slot - chrono::Duration::minutes(5);
    let mut c = test_config();
    c.video.provider = cms_server::video::VideoProvider::Jitsi;
    // What run.sh raises for 2,000 lessons from one address.
    c.limits.sockets_per_user = 64;
    c.limits.connections_per_address = 4_096;
    let (app, _clock) = spawn_app_at_with(c, &now.to_rfc3339()).await;
    let seeded = seed(
        app.store.as_ref().unwrap(),
        &TokenKeys::new(b"test-secret"),
        SeedSpec {
            conversations: 1,
            members: 2,
            token_ttl: chrono::Duration::hours(1),
        },
        "rush",
        now,
    )
    .await
    .expect("seeded");
    let seeded = serde_json::from_value(serde_json::to_value(&seeded).unwrap()).unwrap();
    let w = Arc::new(World::seeded(&app.base, &seeded, 0, 2).unwrap());
    let o = scenario::lesson_rush::RushOptions {
        lessons: 5,
        admins: 2,
        slot: Some(slot),
        drain_secs: 10,
        ..Default::default()
    };
    let r = scenario::lesson_rush::run(w, server(), &o).await.unwrap();
    assert!(r.passed(), "{}", r.summary());
    assert_eq!(r.sockets, 5 * 2 + 2);
    assert_eq!(r.tally.acked, 5);
    // Every start reached both admins' boards and the lesson's parent.
    assert_eq!(r.tally.expected, 5 * 2 + 5);
    assert_eq!(r.tally.delivered, r.tally.expected, "{}", r.summary());
    assert_eq!(r.extra["board_pushes"], 10);
    assert_eq!(r.extra["video_pushes"], 5);
    assert_eq!(r.latency_ms.count, 10);
    assert_eq!(r.extra["board_started_ms"]["count"], 10);
    assert_eq!(r.extra["video_ready_ms"]["count"], 5);
    assert!(r.extra["video_ready_ms"]["max"].as_f64().unwrap() > 0.0);
    assert!(r.server_rss_kib.unwrap() > 0);
}
