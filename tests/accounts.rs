//! Accounts over REST: registration, login, students, errors, OpenAPI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use common::*;
use serde_json::json;

#[actix_web::test]
async fn a_parent_registers_logs_in_and_adds_children() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({ "email": "Mum@Example.test", "password": "correct horse", "name": "Mum", "role": "parent", "phone": "+447400123456" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["email"], "mum@example.test");
    assert_eq!(body["user"]["timezone"], "Europe/London");
    assert!(body["user"]["family_id"].is_string());
    assert!(body["user"].get("password_hash").is_none());
    let user = app.login("mum@example.test").await;
    let (status, me) = app.get("/api/v1/me", Some(&user.token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["name"], "Mum");
    for (name, level) in [("Sam", "GCSE"), ("Alex", "A-Level")] {
        let (status, s) = app
            .post(
                "/api/v1/students",
                Some(&user.token),
                json!({ "name": name, "level": level }),
            )
            .await;
        assert_eq!(status, 201, "{s}");
        assert_eq!(s["family_id"], me["family_id"]);
    }
    let (_, list) = app.get("/api/v1/students", Some(&user.token)).await;
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, vec!["Sam", "Alex"]);
    // A second parent sees the same children.
    let second = app.add_parent(&user, "Dad").await;
    let (_, list2) = app.get("/api/v1/students", Some(&second.token)).await;
    assert_eq!(list2, list);
    // Tutors have no family.
    let tutor = app.register("tutor", "Tutor").await;
    let (status, err) = app
        .post(
            "/api/v1/students",
            Some(&tutor.token),
            json!({ "name": "X", "level": "Y" }),
        )
        .await;
    assert_eq!((status, err["error"].as_str()), (403, Some("forbidden")));
}

#[actix_web::test]
async fn bad_input_is_refused_with_a_json_error_and_nothing_stored() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "email": "a@b.test", "password": "correct horse", "name": "A", "role": "parent", "admin": true }),
            422,
            "invalid",
        ),
        (
            json!({ "email": "not-an-email", "password": "correct horse", "name": "A", "role": "parent" }),
            422,
            "invalid",
        ),
        (
            json!({ "email": "a@b.test", "password": "short", "name": "A", "role": "parent" }),
            422,
            "invalid",
        ),
        (
            json!({ "email": "a@b.test", "password": "correct horse", "name": "A", "role": "admin" }),
            422,
            "invalid",
        ),
        (
            json!({ "email": "a@b.test", "password": "correct horse", "name": "A", "role": "parent", "timezone": "Mars/Olympus" }),
            422,
            "invalid",
        ),
        (
            json!({ "email": "a@b.test", "password": "correct horse", "name": "A", "role": "parent", "phone": "07400 1234" }),
            422,
            "invalid",
        ),
    ];
    for (body, status, code) in cases {
        let (s, b) = app.post("/api/v1/auth/register", None, body.clone()).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (status, Some(code)),
            "{body}: {b}"
        );
        assert!(b["message"].is_string());
    }
    // Malformed JSON.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/register", app.base))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 400);
    let b: serde_json::Value = resp.json().await.expect("json error");
    assert_eq!(b["error"], "malformed_json");
    // None of the refused registrations exist.
    let (s, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "email": "a@b.test", "password": "correct horse" }),
        )
        .await;
    assert_eq!(s, 401);
    // Duplicates conflict.
    let body =
        json!({ "email": "dup@b.test", "password": "correct horse", "name": "A", "role": "tutor" });
    assert_eq!(
        app.post("/api/v1/auth/register", None, body.clone())
            .await
            .0,
        201
    );
    let (s, b) = app.post("/api/v1/auth/register", None, body).await;
    assert_eq!((s, b["error"].as_str()), (409, Some("conflict")));
    // Wrong password, unknown route, no token.
    let (s, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "email": "dup@b.test", "password": "wrong horse" }),
        )
        .await;
    assert_eq!(s, 401);
    let (s, b) = app.get("/api/v1/nope", None).await;
    assert_eq!((s, b["error"].as_str()), (404, Some("not_found")));
    let (s, b) = app.get("/api/v1/me", None).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("unauthorized")));
}

#[actix_web::test]
async fn conversations_keep_parents_in_every_thread() {
    let app = spawn_app().await;
    let parent = app.register("parent", "P").await;
    let tutor = app.register("tutor", "T").await;
    let other = app.register("parent", "Q").await;
    let (_, child) = app
        .post(
            "/api/v1/students",
            Some(&other.token),
            json!({ "name": "Kid", "level": "GCSE" }),
        )
        .await;
    // A tutor cannot open threads; nor can a parent about another family's child.
    let (s, _) = app
        .post(
            "/api/v1/conversations",
            Some(&tutor.token),
            json!({ "tutor_id": tutor.id }),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .post(
            "/api/v1/conversations",
            Some(&parent.token),
            json!({ "tutor_id": tutor.id, "student_id": child["id"] }),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .post(
            "/api/v1/conversations",
            Some(&parent.token),
            json!({ "tutor_id": other.id }),
        )
        .await;
    assert_eq!(s, 404, "only tutors can be messaged");
    let (s, first) = app
        .post(
            "/api/v1/conversations",
            Some(&parent.token),
            json!({ "tutor_id": tutor.id }),
        )
        .await;
    assert_eq!(s, 201);
    let (s, again) = app
        .post(
            "/api/v1/conversations",
            Some(&parent.token),
            json!({ "tutor_id": tutor.id }),
        )
        .await;
    assert_eq!(
        (s, &again["id"]),
        (200, &first["id"]),
        "one thread per family and tutor"
    );
    let (_, tutor_list) = app.get("/api/v1/conversations", Some(&tutor.token)).await;
    assert_eq!(tutor_list[0]["id"], first["id"]);
    let (_, other_list) = app.get("/api/v1/conversations", Some(&other.token)).await;
    assert_eq!(other_list, json!([]));
    let admin = common::admin(&app).await;
    let (_, all) = app.get("/api/v1/conversations", Some(&admin.token)).await;
    assert_eq!(all.as_array().expect("list").len(), 1);
}

#[actix_web::test]
async fn openapi_document_and_health() {
    let app = spawn_app().await;
    let (s, doc) = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/students",
        "/api/v1/conversations",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert_eq!(app.get("/healthz", None).await.0, 200);
    assert_eq!(app.get("/readyz", None).await.0, 200);
}
