//! Scheduling fixtures: an approved tutor with availability, a family with
//! children, an admin.

use serde_json::{Value, json};

use super::{TestApp, User, admin};

pub struct School {
    pub admin: User,
    pub parent: User,
    pub tutor: User,
    /// The parent's children.
    pub kids: Vec<String>,
}

pub async fn student(app: &TestApp, parent: &User, name: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/students",
            Some(&parent.token),
            json!({ "name": name, "level": "GCSE" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("student id").to_owned()
}

/// A tutor teaching GCSE Maths (£40/h, £25/h each in a group) with a
/// 15-minute buffer, available every day 08:00–21:00 London time, approved.
pub async fn approved_tutor(app: &TestApp, admin: &User, name: &str) -> User {
    let tutor = app.register("tutor", name).await;
    let (status, body) = app
        .put(
            "/api/v1/tutor/profile",
            Some(&tutor.token),
            json!({
                "bio": "Maths, patiently.", "timezone": "Europe/London", "buffer_min": 15,
                "subjects": [{ "subject": "Maths", "level": "GCSE", "rate_pence": 4000, "group_rate_pence": 2500 }]
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "pending");
    let weekly: Vec<Value> = (1..=7)
        .map(|d| json!({ "day": d, "start": 8 * 60, "end": 21 * 60 }))
        .collect();
    let (status, body) = app
        .put(
            "/api/v1/tutor/availability",
            Some(&tutor.token),
            json!({ "weekly": weekly }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    set_status(app, admin, &tutor, "approved").await;
    tutor
}

pub async fn set_status(app: &TestApp, admin: &User, tutor: &User, status: &str) {
    let (code, body) = app
        .put(
            &format!("/api/v1/admin/tutors/{}/status", tutor.id),
            Some(&admin.token),
            json!({ "status": status }),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], status);
}

pub async fn school(app: &TestApp, kids: usize) -> School {
    let admin = admin(app).await;
    let parent = app.register("parent", "Pat Parent").await;
    let tutor = approved_tutor(app, &admin, "Tom Tutor").await;
    let mut ids = Vec::new();
    for i in 0..kids {
        ids.push(student(app, &parent, &format!("Kid {i}")).await);
    }
    School {
        admin,
        parent,
        tutor,
        kids: ids,
    }
}

/// A booking request body for GCSE Maths in London.
pub fn booking(tutor: &User, students: &[&str], start: &str) -> Value {
    json!({
        "tutor_id": tutor.id, "student_ids": students, "subject": "Maths", "level": "GCSE",
        "start": start, "timezone": "Europe/London", "duration_min": 60
    })
}

/// Books and expects 201; returns the first occurrence.
pub async fn book_ok(app: &TestApp, who: &User, body: Value) -> Value {
    let (status, res) = app.post("/api/v1/bookings", Some(&who.token), body).await;
    assert_eq!(status, 201, "{res}");
    res["occurrences"][0].clone()
}

/// Cancels a lesson; returns the status and body.
pub async fn cancel(app: &TestApp, who: &User, lesson: &Value, body: Value) -> (u16, Value) {
    let id = lesson["id"].as_str().expect("lesson id");
    app.post(
        &format!("/api/v1/lessons/{id}/cancel"),
        Some(&who.token),
        body,
    )
    .await
}

/// `(chargeable, credits_issued)` of a cancel response.
pub fn outcome(res: &Value) -> (Option<bool>, Option<u64>) {
    (res["chargeable"].as_bool(), res["credits_issued"].as_u64())
}

/// The tutor starts and ends the lesson, every child present.
pub async fn hold(app: &TestApp, tutor: &User, lesson_id: &str, kids: &[&str]) {
    let (status, body) = app
        .post(
            &format!("/api/v1/lessons/{lesson_id}/start"),
            Some(&tutor.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let attendance: Vec<Value> = kids
        .iter()
        .map(|k| json!({ "student_id": k, "status": "present" }))
        .collect();
    let (status, body) = app
        .post(
            &format!("/api/v1/lessons/{lesson_id}/end"),
            Some(&tutor.token),
            json!({ "notes": "", "attendance": attendance }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}
