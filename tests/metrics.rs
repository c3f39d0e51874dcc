//! `GET /metrics` on the real server: what a chat exchange and a few
//! requests leave behind is there in Prometheus's text format, and with
//! `metrics.token` set the scrape needs it. (One recorder serves the whole
//! test process, so counts are at least, never exactly, this test's.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::*;

/// The value of the first sample line starting with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(format!("{}/metrics", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[actix_web::test]
async fn a_chat_exchange_shows_in_the_metrics() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let tutor = app.joined(&t.tutor, &topic).await;
    let parent = app.joined(&t.parent1, &topic).await;
    for i in 0..3 {
        send(&parent, &topic, &format!("hello {i}")).await;
    }
    tutor
        .next_event_named(&topic, "message:new", WAIT)
        .await
        .expect("delivered");
    let (_, me) = app.get("/api/v1/me", Some(&t.tutor.token)).await;
    assert_eq!(me["id"], t.tutor.id.as_str());

    let (status, text) = scrape(&app, None).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        sample(&text, "cms_messages_stored_total").unwrap() >= 3.0,
        "{text}"
    );
    assert!(sample(&text, "cms_messages_delivered_total").unwrap() >= 3.0);
    assert!(sample(&text, "cms_sockets_open").unwrap() >= 2.0);
    assert!(sample(&text, "cms_joins_total{kind=\"conversation\"}").unwrap() >= 2.0);
    assert!(sample(&text, "cms_chat_batch_size_count").unwrap() >= 1.0);
    assert!(text.contains("cms_chat_commit_seconds_bucket{le=\"0.005\"}"));
    assert!(text.contains("cms_store_query_seconds_count{op=\"latest_seq\"}"));
    // Requests by their route's pattern, not their path.
    assert!(
        text.lines()
            .any(|l| l.starts_with("cms_http_request_seconds_count")
                && l.contains("route=\"/api/v1/me\"")
                && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(!text.contains(&t.conversation), "no ids in series");
}

#[actix_web::test]
async fn with_a_token_only_its_bearer_may_scrape() {
    let mut config = test_config();
    config.metrics.token = Some("scrape-secret".into());
    let app = spawn_app_with(config).await;
    let (status, body) = scrape(&app, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = scrape(&app, Some("guess")).await;
    assert_eq!(status, 401);
    let (status, text) = scrape(&app, Some("scrape-secret")).await;
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE"), "{text}");
}
