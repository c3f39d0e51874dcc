//! Reminders survive restarts: the server is stopped and started again on
//! its surrealkv files (each run in its own actix system, torn down whole,
//! so nothing survives in memory), with the clock moved on while it was
//! down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::notify::{WAIT, instant, parse};
use common::restart::run;
use common::sched::{School, book_ok, booking, school};
use common::smtp::SmtpSink;
use common::{TestApp, test_config};
use serde_json::Value;

fn reminders(smtp: &SmtpSink) -> Vec<common::notify::Mail> {
    smtp.messages()
        .iter()
        .map(parse)
        .filter(|m| m.subject.starts_with("Reminder"))
        .collect()
}

async fn statuses(app: &TestApp, lesson: &str) -> Vec<(String, String)> {
    let store = app.store.as_ref().unwrap();
    let mut v: Vec<(String, String)> = store
        .lesson_jobs(lesson)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == cms_domain::notify::JobKind::Reminder)
        .map(|j| {
            (
                j.key.rsplit('.').next().unwrap().to_owned(),
                j.status.as_str().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Waits until the lesson's jobs read `want`.
async fn until(app: &TestApp, lesson: &str, want: &[(&str, &str)]) {
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| ((*a).into(), (*b).into()))
        .collect();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let got = statuses(app, lesson).await;
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "jobs are {got:?}, wanted {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[test]
fn jobs_due_while_down_are_sent_once_or_skipped_if_the_lesson_began() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start();
    let mut config = test_config();
    config.auth.token_ttl_secs = 366 * 24 * 3600;
    config.email.smtp_url = Some(smtp.url());

    // Booked on Monday morning: A on Wednesday 16:00, B on Wednesday 11:00.
    let (a, b): (String, String) = run(
        &config,
        &dir,
        0,
        "2027-03-08T10:00:00Z",
        Box::new(|app, _clock| {
            Box::pin(async move {
                let s: School = school(&app, 1).await;
                let kid = s.kids[0].as_str();
                let a = book_ok(
                    &app,
                    &s.parent,
                    booking(&s.tutor, &[kid], "2027-03-10T16:00"),
                )
                .await;
                let b = book_ok(
                    &app,
                    &s.parent,
                    booking(&s.tutor, &[kid], "2027-03-10T11:00"),
                )
                .await;
                let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
                until(&app, &id(&a), &[("r120", "pending"), ("r1440", "pending")]).await;
                (id(&a), id(&b))
            })
        }),
    );
    assert!(reminders(&smtp).is_empty());

    // Down until Wednesday 12:00: A's 24 h reminder fell due on Tuesday
    // and A has not begun, so it goes now, once; B was due at 11:00 and
    // nobody started it, so the lesson timers (which run first) mark it a
    // tutor no-show, and that withdraws both of its reminders.
    let (a2, b2) = (a.clone(), b.clone());
    run(
        &config,
        &dir,
        1,
        "2027-03-10T12:00:00Z",
        Box::new(move |app, _clock| {
            Box::pin(async move {
                until(&app, &a2, &[("r120", "pending"), ("r1440", "sent")]).await;
                until(&app, &b2, &[("r120", "withdrawn"), ("r1440", "withdrawn")]).await;
            })
        }),
    );
    let sent = reminders(&smtp);
    assert_eq!(sent.len(), 2, "parent and tutor, once each: {sent:?}");
    assert!(
        sent.iter()
            .all(|m| m.text.contains("Wed 10 Mar 2027, 16:00 GMT"))
    );

    // Up again at 12:30, then 14:00: the 24 h one is not repeated; the
    // 2 h one goes once.
    let a3 = a.clone();
    run(
        &config,
        &dir,
        2,
        "2027-03-10T12:30:00Z",
        Box::new(move |app, clock| {
            Box::pin(async move {
                clock.set(instant("2027-03-10T14:00:00Z"));
                until(&app, &a3, &[("r120", "sent"), ("r1440", "sent")]).await;
            })
        }),
    );
    let sent = reminders(&smtp);
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(
        sent.iter()
            .filter(|m| m.subject.contains("tomorrow"))
            .count(),
        2
    );
    assert_eq!(
        sent.iter()
            .filter(|m| m.subject.contains("in 2 hours"))
            .count(),
        2
    );
}
