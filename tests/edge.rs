//! The edge: an id that could not be a record key never reaches a query,
//! and no database or library text reaches a client.
//!
//! The walk takes its routes from the served OpenAPI document, so a route
//! added later with an `{id}` is walked too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};

/// Ids that cannot be record keys, as they appear in a URL path.
const BAD_PATH_IDS: &[&str] = &["%20", "a:b", "%E2%9F%A8x%E2%9F%A9", "..%2Fx", "a%00b"];

/// Words that only a database or a library would write.
const LEAKS: &[&str] = &[
    "surreal",
    "array::",
    "record::",
    "type::",
    "Parse error",
    "SELECT",
    "thread",
    "serde",
];

fn assert_own_message(what: &str, body: &Value) {
    let message = body["message"].as_str().unwrap_or_else(|| {
        panic!("{what}: no {{error, message}} body: {body}");
    });
    assert!(body["error"].is_string(), "{what}: {body}");
    for leak in LEAKS {
        assert!(
            !message.to_lowercase().contains(&leak.to_lowercase()),
            "{what}: the message leaks {leak:?}: {message}"
        );
    }
}

/// A 403 that names a role other than `who`'s: the route is for them,
/// and says so before it looks at the id.
fn for_another_role(who: &str, status: u16, res: &serde_json::Value) -> bool {
    let message = res["message"].as_str().unwrap_or_default();
    status == 403
        && res["error"] == "forbidden"
        && message.starts_with("only a")
        && !message.contains(who)
}

/// Every path with an `{id}`, every method on it.
async fn id_routes(app: &TestApp) -> Vec<(String, String)> {
    let (status, doc) = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.contains("{id}") {
            continue;
        }
        for method in ["get", "post", "put", "patch"] {
            if item.get(method).is_some() {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[actix_web::test]
async fn malformed_path_ids_are_404s_with_the_servers_own_message_on_every_route() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let parent = app.register("parent", "Pat").await;
    let routes = id_routes(&app).await;
    assert!(
        routes.len() >= 8,
        "the document lists the id routes: {routes:?}"
    );
    for (who, token) in [("admin", &admin.token), ("parent", &parent.token)] {
        for (method, path) in &routes {
            for bad in BAD_PATH_IDS {
                let url = path.replace("{id}", bad);
                let body = (method != "GET").then(|| json!({}));
                let (status, res) = app.request(method, &url, Some(token), body).await;
                let what = format!("{who}: {method} {url}");
                // A route for another role says so before it looks at
                // the id; nothing else may come before the 404.
                let role_first = for_another_role(who, status, &res);
                assert!(status == 404 || role_first, "{what}: {status} {res}");
                assert_own_message(&what, &res);
            }
        }
    }
}

#[actix_web::test]
async fn well_formed_ids_of_nothing_are_404s_without_leaks() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    for (method, path) in id_routes(&app).await {
        let url = path.replace("{id}", "nothing_here_0");
        let body = (method != "GET").then(|| json!({}));
        let (status, res) = app.request(&method, &url, Some(&admin.token), body).await;
        let what = format!("{method} {url}");
        // A body that does not fit may be refused first (422), and a route
        // for another role (a parent's hand-in) says so first (403);
        // either way it is the server's own words.
        let role_first = for_another_role("admin", status, &res);
        assert!(
            matches!(status, 404 | 422) || role_first,
            "{what}: {status} {res}"
        );
        assert_own_message(&what, &res);
    }
}

#[actix_web::test]
async fn empty_and_malformed_ids_in_bodies_and_queries_are_422s() {
    let app = spawn_app().await;
    let parent = app.register("parent", "Pat").await;
    let admin = admin(&app).await;
    for tutor_id in ["", " ", "a:b", "⟨x⟩"] {
        let (status, res) = app
            .post(
                "/api/v1/conversations",
                Some(&parent.token),
                json!({ "tutor_id": tutor_id }),
            )
            .await;
        assert_eq!(status, 422, "tutor_id {tutor_id:?}: {res}");
        assert_own_message("POST /api/v1/conversations", &res);
    }
    let (status, res) = app
        .post(
            "/api/v1/bookings",
            Some(&parent.token),
            json!({ "tutor_id": "t", "student_ids": [""], "subject": "Maths", "level": "GCSE",
                    "start": "2027-03-10T16:00", "timezone": "Europe/London" }),
        )
        .await;
    assert_eq!(status, 422, "{res}");
    assert_own_message("POST /api/v1/bookings", &res);
    for query in ["family_id=", "family_id=a%3Ab", "tutor_id=%20"] {
        let (status, res) = app
            .get(
                &format!("/api/v1/calendar?from=2027-03-01&to=2027-03-02&{query}"),
                Some(&admin.token),
            )
            .await;
        assert_eq!(status, 422, "{query}: {res}");
        assert_own_message("GET /api/v1/calendar", &res);
    }
}

#[actix_web::test]
async fn a_documented_path_asked_with_another_method_is_a_405_naming_the_methods() {
    let app = spawn_app().await;
    let parent = app.register("parent", "Pat").await;
    let http = reqwest::Client::new();
    for method in [reqwest::Method::DELETE, reqwest::Method::TRACE] {
        let res = http
            .request(method.clone(), format!("{}/api/v1/me", app.base))
            .bearer_auth(&parent.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 405, "{method} /api/v1/me");
        let allow = res.headers()["allow"].to_str().unwrap().to_owned();
        assert_eq!(allow, "GET, PATCH");
        let body: Value = res.json().await.unwrap();
        assert_own_message("405", &body);
    }
    // A path nobody serves stays a 404.
    let (status, _) = app.get("/api/v1/nothing", Some(&parent.token)).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn the_role_is_checked_before_the_body_is_read() {
    let app = spawn_app().await;
    let parent = app.register("parent", "Pat").await;
    // A body that is wrong in every way still gets "not an admin" first.
    let (status, res) = app
        .post(
            "/api/v1/admin/subjects",
            Some(&parent.token),
            json!({ "name": 7, "unknown": true }),
        )
        .await;
    assert_eq!(status, 403, "{res}");
    let (status, _) = app
        .put(
            "/api/v1/tutor/availability",
            Some(&parent.token),
            json!({ "weekly": "nope" }),
        )
        .await;
    assert_eq!(status, 403);
}

/// JSON Schema's integers include `60.0`; clients whose encoders write every
/// number with a point (Python's `json.dumps(60.0)`) get the same answer as
/// those that write `60`, while a fraction is still refused.
#[actix_web::test]
async fn whole_numbers_written_with_a_point_are_integers_and_fractions_are_not() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = common::sched::school(&app, 2).await;
    let (status, t) = app
        .post(
            "/api/v1/admin/templates",
            Some(&s.admin.token),
            json!({ "name": "Long session", "duration_min": 90.0, "price_pence": 5500.0 }),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    assert_eq!(
        (t["duration_min"].as_u64(), t["price_pence"].as_i64()),
        (Some(90), Some(5500))
    );

    let mut body = common::sched::booking(&s.tutor, &[&s.kids[0]], "2027-03-09T16:00");
    body["duration_min"] = json!(45.0);
    let o = common::sched::book_ok(&app, &s.parent, body).await;
    assert_eq!(o["duration_min"], 45, "{o}");

    let mut body = common::sched::booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00");
    body["duration_min"] = json!(45.5);
    let (status, res) = app
        .post("/api/v1/bookings", Some(&s.parent.token), body)
        .await;
    assert_eq!(status, 422, "{res}");
    assert!(
        res["message"].as_str().unwrap().contains("whole number"),
        "{res}"
    );
}

/// `student_ids` is documented as a set (`uniqueItems`), and a repeated id
/// is refused rather than merged: it is a mistake in the caller's form.
#[actix_web::test]
async fn a_student_named_twice_is_refused_as_the_document_says() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = common::sched::school(&app, 1).await;
    let (_, doc) = app.get("/api/v1/openapi.json", None).await;
    let ids = &doc["components"]["schemas"]["BookingRequest"]["properties"]["student_ids"];
    assert_eq!(ids["uniqueItems"], true, "{ids}");
    let kid = s.kids[0].as_str();
    let body = common::sched::booking(&s.tutor, &[kid, kid], "2027-03-09T16:00");
    let (status, res) = app
        .post("/api/v1/bookings", Some(&s.parent.token), body)
        .await;
    assert_eq!(status, 422, "{res}");
    assert_own_message("POST /api/v1/bookings", &res);
}
