//! Tutors' documents and the upload service on the real server: type
//! sniffing, limits, safe names, encryption at rest, who may read a file,
//! the DBS rule that gates booking (on a ManualClock), reviews, the access
//! log, and the malware scan against a clamd stand-in speaking clamd's
//! INSTREAM protocol.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::form::{Part, download, post_form};
use common::sched::{approved_tutor, booking, student};
use common::{TestApp, User, WAIT, admin, spawn_app_at_with, test_config};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NOW: &str = "2026-12-04T09:00:00Z";
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\nDBS-PLAINTEXT-MARKER\n%%EOF\n";

async fn upload(app: &TestApp, who: &User, parts: &[Part<'_>]) -> (u16, Value) {
    post_form(app, "/api/v1/tutor/documents", who, parts).await
}

/// Uploads a qualification titled `title` with `bytes` sent as `name`.
async fn qualification(
    app: &TestApp,
    tutor: &User,
    title: &str,
    name: &str,
    bytes: &[u8],
) -> (u16, Value) {
    let parts: [Part<'_>; 3] = [
        ("kind", None, b"qualification"),
        ("title", None, title.as_bytes()),
        ("file", Some(name), bytes),
    ];
    upload(app, tutor, &parts).await
}

/// An admin (or anyone, to see them refused) verifies a document.
async fn verify(app: &TestApp, who: &User, doc_id: &str) -> (u16, Value) {
    let path = format!("/api/v1/admin/documents/{doc_id}/verify");
    app.post(&path, Some(&who.token), serde_json::json!({}))
        .await
}

async fn upload_dbs(app: &TestApp, tutor: &User, issued_on: &str) -> Value {
    let (status, body) = upload(
        app,
        tutor,
        &[
            ("kind", None, b"dbs"),
            ("certificate_number", None, b"001234567890"),
            ("issued_on", None, issued_on.as_bytes()),
            ("file", Some("dbs.pdf"), PDF),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending");
    body
}

/// The next in-app notification about a DBS, skipping lesson ones.
async fn dbs_notification(inbox: &cms_loadtest::PhxClient, topic: &str) -> Value {
    loop {
        let n = inbox
            .next_event_named(topic, "notification", WAIT)
            .await
            .expect("a notification");
        if n.payload["kind"] == "dbs_expiry" {
            return n.payload;
        }
    }
}

/// The channels a job was sent on, once its email is sent too.
async fn sent_channels(app: &TestApp, job: &str) -> Vec<String> {
    let store = app.store.as_ref().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let rows = store.job_deliveries(job).await.unwrap();
        let mut sent: Vec<String> = rows
            .iter()
            .filter(|d| d["status"] == "sent")
            .map(|d| d["channel"].as_str().unwrap().to_owned())
            .collect();
        sent.sort();
        if sent.len() >= 2 || tokio::time::Instant::now() > deadline {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn dbs_config() -> cms_server::config::Config {
    let mut c = test_config();
    c.documents.require_dbs = true;
    c
}

async fn try_book(
    app: &TestApp,
    parent: &User,
    tutor: &User,
    kid: &str,
    start: &str,
) -> (u16, Value) {
    app.post(
        "/api/v1/bookings",
        Some(&parent.token),
        booking(tutor, &[kid], start),
    )
    .await
}

#[actix_web::test]
async fn html_named_pdf_is_refused_and_nothing_is_kept() {
    let (app, _clock) = spawn_app_at_with(test_config(), NOW).await;
    let tutor = app.register("tutor", "Tess Tutor").await;
    let page = b"<!DOCTYPE html><html><body><script>fetch('/api/v1/me')</script></body></html>";
    let (status, body) = qualification(&app, &tutor, "BSc Maths", "cv.pdf", page).await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["error"], "unsupported_media_type");
    // A Windows program named as a PDF is refused the same way.
    let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0\xb8\0\0\0\0\0\0\0@\0";
    let (status, _) = qualification(&app, &tutor, "BSc", "cv.pdf", exe).await;
    assert_eq!(status, 415);
    let (_, mine) = app.get("/api/v1/tutor/documents", Some(&tutor.token)).await;
    assert_eq!(mine["documents"], serde_json::json!([]));
    assert_eq!(mine["dbs"]["standing"], "missing");
}

#[actix_web::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let mut c = test_config();
    c.uploads.max_request_bytes = 64 * 1024;
    c.uploads.max_file_bytes = 32 * 1024;
    let (app, _clock) = spawn_app_at_with(c, NOW).await;
    let tutor = app.register("tutor", "Tess Tutor").await;

    // A declared 50 MB body: the answer comes after the headers alone; the
    // client never sends the body at all.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/tutor/documents HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 50000000\r\n\r\n",
        tutor.token
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(WAIT, tcp.read(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("payload_too_large"), "{text}");

    // Without a declared length, reading stops at the file limit.
    let big = vec![b'a'; 40 * 1024];
    let (status, body) = qualification(&app, &tutor, "BSc", "notes.txt", &big).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("32768"),
        "{body}"
    );
}

#[actix_web::test]
async fn names_are_made_safe_and_bytes_rest_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = test_config();
    c.uploads.dir = Some(dir.path().join("vault").to_string_lossy().into_owned());
    let (app, _clock) = spawn_app_at_with(c, NOW).await;
    let tutor = app.register("tutor", "Tess Tutor").await;
    let (status, doc) = qualification(&app, &tutor, "PGCE", "../../../etc/passwd.pdf", PDF).await;
    assert_eq!(status, 201, "{doc}");
    assert_eq!(doc["file"]["name"], "passwd.pdf");
    assert_eq!(doc["file"]["media_type"], "application/pdf");
    let file_id = doc["file"]["id"].as_str().unwrap();

    // On disk: one file, named by its id, under the vault; not the plaintext.
    let stored: Vec<_> = std::fs::read_dir(dir.path().join("vault").join("files"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(stored, vec![file_id.to_owned()]);
    let bytes = std::fs::read(dir.path().join("vault").join("files").join(file_id)).unwrap();
    assert!(!bytes.windows(20).any(|w| w == b"DBS-PLAINTEXT-MARKER"));
    assert!(!bytes.starts_with(b"%PDF"));
    assert!(!dir.path().join("etc").exists());

    // Served back whole, as a download that the browser may not sniff.
    let resp = download(&app, &tutor, file_id).await;
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"passwd.pdf\""
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PDF);
}

#[actix_web::test]
async fn a_name_beyond_ascii_is_offered_whole_on_download() {
    let (app, _clock) = spawn_app_at_with(test_config(), NOW).await;
    let tutor = app.register("tutor", "Tess Tutor").await;
    let (status, doc) = qualification(&app, &tutor, "Diplôme", "Diplôme été.pdf", PDF).await;
    assert_eq!(status, 201, "{doc}");
    let resp = download(&app, &tutor, doc["file"]["id"].as_str().unwrap()).await;
    assert_eq!(resp.status().as_u16(), 200);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"Dipl_me _t_.pdf\""),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''Dipl%C3%B4me%20%C3%A9t%C3%A9.pdf"),
        "{disposition}"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PDF);
}

#[actix_web::test]
async fn a_document_is_for_its_tutor_and_admins_and_dbs_reads_are_logged() {
    let (app, _clock) = spawn_app_at_with(dbs_config(), NOW).await;
    let boss = admin(&app).await;
    let tutor = app.register("tutor", "Tess Tutor").await;
    let other_tutor = app.register("tutor", "Otto Tutor").await;
    let parent = app.register("parent", "Pat Parent").await;
    let doc = upload_dbs(&app, &tutor, "2025-03-01").await;
    let file_id = doc["file"]["id"].as_str().unwrap();
    for (who, status) in [
        (&tutor, 200),
        (&boss, 200),
        (&other_tutor, 404),
        (&parent, 404),
    ] {
        assert_eq!(download(&app, who, file_id).await.status().as_u16(), status);
    }
    assert_eq!(
        download(&app, &tutor, "nosuchfile").await.status().as_u16(),
        404
    );
    let doc_id = doc["id"].as_str().unwrap();
    let (status, log) = app
        .get(
            &format!("/api/v1/admin/documents/{doc_id}/accesses"),
            Some(&boss.token),
        )
        .await;
    assert_eq!(status, 200, "{log}");
    let who: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["by"].clone(), a["role"].clone()))
        .collect();
    assert_eq!(
        who,
        vec![
            (tutor.id.clone().into(), "tutor".into()),
            (boss.id.clone().into(), "admin".into())
        ]
    );
    let (status, _) = app
        .get(
            &format!("/api/v1/admin/documents/{doc_id}/accesses"),
            Some(&tutor.token),
        )
        .await;
    assert_eq!(status, 403);
}

#[actix_web::test]
async fn a_valid_dbs_gates_booking_its_tutor_is_reminded_and_its_lapse_stops_new_bookings() {
    let (app, clock) = spawn_app_at_with(dbs_config(), NOW).await;
    let boss = admin(&app).await;
    let parent = app.register("parent", "Pat Parent").await;
    let kid = student(&app, &parent, "Kim").await;
    let tutor = approved_tutor(&app, &boss, "Tess Tutor").await;
    let tutor_socket = app.joined(&tutor, &format!("tutor:{}", tutor.id)).await;
    let board = app.joined(&boss, "admin:monitor").await;
    let user_topic = format!("user:{}", tutor.id);
    let inbox = app.joined(&tutor, &user_topic).await;

    let (status, body) = try_book(&app, &parent, &tutor, &kid, "2026-12-10T16:00:00Z").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (409, Some("dbs_missing")),
        "{body}"
    );

    // Issued 2024-01-10: with 36 months it counts until 10 Jan 2027.
    let doc = upload_dbs(&app, &tutor, "2024-01-10").await;
    let pushed = board
        .next_event_named("admin:monitor", "document:changed", WAIT)
        .await
        .unwrap();
    assert_eq!(pushed.payload["change"], "uploaded");
    let tutor_topic = format!("tutor:{}", tutor.id);
    let pushed = tutor_socket
        .next_event_named(&tutor_topic, "document:changed", WAIT)
        .await
        .unwrap();
    assert_eq!(pushed.payload["status"], "pending");
    let (status, body) = try_book(&app, &parent, &tutor, &kid, "2026-12-10T16:00:00Z").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (409, Some("dbs_pending")),
        "{body}"
    );

    let doc_id = doc["id"].as_str().unwrap();
    let (status, verified) = verify(&app, &boss, doc_id).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["status"], "verified");
    assert_eq!(verified["lapses_at"], "2027-01-10T00:00:00Z");
    let pushed = tutor_socket
        .next_event_named(&tutor_topic, "document:changed", WAIT)
        .await
        .unwrap();
    assert_eq!(pushed.payload["change"], "verified");
    assert_eq!(pushed.payload["lapses_at"], "2027-01-10T00:00:00Z");
    // Reviewed once only.
    let (status, _) = verify(&app, &boss, doc_id).await;
    assert_eq!(status, 409);

    let (status, booked) = try_book(&app, &parent, &tutor, &kid, "2026-12-10T16:00:00Z").await;
    assert_eq!(status, 201, "{booked}");
    // A lesson after the lapse, booked while the DBS counts: the rule is
    // about when a booking is made, so it stays.
    let (status, later) = try_book(&app, &parent, &tutor, &kid, "2027-01-20T16:00:00Z").await;
    assert_eq!(status, 201, "{later}");
    let lesson_id = later["occurrences"][0]["id"].as_str().unwrap().to_owned();

    // Reminded 30 and 7 days ahead, in the app and by email, once each.
    for (due, key) in [
        ("2026-12-11T00:00:01Z", "dbs30"),
        ("2027-01-03T00:00:01Z", "dbs7"),
    ] {
        clock.set(due.parse().unwrap());
        let n = dbs_notification(&inbox, &user_topic).await;
        assert!(
            n["text"]
                .as_str()
                .unwrap()
                .contains("until the end of Sat 9 Jan 2027"),
            "{n}"
        );
        let job = format!("{doc_id}.{key}");
        let sent = sent_channels(&app, &job).await;
        assert_eq!(sent, ["email", "inapp"], "{job}");
    }

    clock.set("2027-01-10T00:00:00Z".parse().unwrap());
    let (status, body) = try_book(&app, &parent, &tutor, &kid, "2027-01-21T16:00:00Z").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (409, Some("dbs_lapsed")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("lapsed"),
        "{body}"
    );
    let (_, mine) = app.get("/api/v1/tutor/documents", Some(&tutor.token)).await;
    assert_eq!(mine["dbs"]["standing"], "lapsed");
    // What was booked before stays.
    let (status, lesson) = app
        .get(&format!("/api/v1/lessons/{lesson_id}"), Some(&parent.token))
        .await;
    assert_eq!(status, 200, "{lesson}");
    assert_eq!(lesson["status"], "booked");

    // On the lesson's day the admins' board marks it: its tutor has no
    // valid DBS now.
    clock.set("2027-01-20T10:00:00Z".parse().unwrap());
    let watcher = app.connect(&boss).await;
    let snapshot = watcher
        .join("admin:monitor", serde_json::json!({}))
        .await
        .unwrap();
    let row = snapshot.response["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == lesson_id.as_str())
        .cloned()
        .expect("the lesson is on the board");
    assert_eq!(row["tutor_without_dbs"], true, "{row}");

    // A renewal, once verified, lets bookings in again.
    let renewal = upload_dbs(&app, &tutor, "2027-01-05").await;
    let renewal_id = renewal["id"].as_str().unwrap();
    let (status, _) = verify(&app, &boss, renewal_id).await;
    assert_eq!(status, 200);
    let (status, body) = try_book(&app, &parent, &tutor, &kid, "2027-01-21T16:00:00Z").await;
    assert_eq!(status, 201, "{body}");
}

#[actix_web::test]
async fn a_rejected_document_says_why_and_does_not_count() {
    let (app, _clock) = spawn_app_at_with(dbs_config(), NOW).await;
    let boss = admin(&app).await;
    let parent = app.register("parent", "Pat Parent").await;
    let kid = student(&app, &parent, "Kim").await;
    let tutor = approved_tutor(&app, &boss, "Tess Tutor").await;
    let doc = upload_dbs(&app, &tutor, "2025-06-01").await;
    let (_, queue) = app
        .get("/api/v1/admin/documents?status=pending", Some(&boss.token))
        .await;
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue}");
    let doc_id = doc["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/documents/{doc_id}/reject"),
            Some(&boss.token),
            serde_json::json!({ "reason": "The scan is unreadable; please upload a clearer copy." }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "rejected");
    let (_, mine) = app.get("/api/v1/tutor/documents", Some(&tutor.token)).await;
    assert_eq!(mine["dbs"]["standing"], "rejected");
    assert_eq!(
        mine["documents"][0]["reason"],
        "The scan is unreadable; please upload a clearer copy."
    );
    let (status, body) = try_book(&app, &parent, &tutor, &kid, "2026-12-10T16:00:00Z").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (409, Some("dbs_rejected")),
        "{body}"
    );
    // Tutors and parents do not review.
    let (status, _) = verify(&app, &tutor, doc_id).await;
    assert_eq!(status, 403);
    let (_, queue) = app
        .get("/api/v1/admin/documents?status=pending", Some(&boss.token))
        .await;
    assert_eq!(queue, serde_json::json!([]));
}

/// A stand-in for clamd on a loopback port: reads `zINSTREAM\0` and the
/// length-prefixed chunks up to the empty one, and answers `stream: OK` or,
/// when the bytes hold the test marker, `stream: Cms.Test.Marker FOUND`.
struct FakeClamd {
    port: u16,
    up: Arc<AtomicBool>,
}

const MARKER: &[u8] = b"CMS-TEST-MALWARE-MARKER";

impl FakeClamd {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let serving = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                let serving = serving.clone();
                tokio::spawn(async move {
                    if !serving.load(Ordering::SeqCst) {
                        // Down: the connection is dropped unanswered.
                        return;
                    }
                    let mut command = [0u8; 10];
                    tcp.read_exact(&mut command).await.unwrap();
                    assert_eq!(&command, b"zINSTREAM\0");
                    let mut data = Vec::new();
                    loop {
                        let mut len = [0u8; 4];
                        tcp.read_exact(&mut len).await.unwrap();
                        let len = u32::from_be_bytes(len) as usize;
                        if len == 0 {
                            break;
                        }
                        let mut chunk = vec![0u8; len];
                        tcp.read_exact(&mut chunk).await.unwrap();
                        data.extend_from_slice(&chunk);
                    }
                    let answer: &[u8] = if data.windows(MARKER.len()).any(|w| w == MARKER) {
                        b"stream: Cms.Test.Marker FOUND\0"
                    } else {
                        b"stream: OK\0"
                    };
                    tcp.write_all(answer).await.unwrap();
                });
            }
        });
        Self { port, up }
    }
}

#[actix_web::test]
async fn the_malware_scan_refuses_infected_files_and_quarantines_during_an_outage() {
    let clamd = FakeClamd::start().await;
    let mut c = dbs_config();
    c.uploads.clamd = Some(format!("127.0.0.1:{}", clamd.port));
    c.uploads.rescan_every_secs = 60;
    let (app, clock) = spawn_app_at_with(c, NOW).await;
    let boss = admin(&app).await;
    let board = app.joined(&boss, "admin:monitor").await;
    let tutor = app.register("tutor", "Tess Tutor").await;

    // Infected: refused, the admins told, nothing kept.
    let mut infected = PDF.to_vec();
    infected.extend_from_slice(MARKER);
    let (status, body) = qualification(&app, &tutor, "BSc", "cert.pdf", &infected).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("malware"),
        "{body}"
    );
    let alert = board
        .next_event_named("admin:monitor", "upload:infected", WAIT)
        .await
        .unwrap();
    assert_eq!(alert.payload["signature"], "Cms.Test.Marker");
    assert_eq!(alert.payload["owner_id"], tutor.id.as_str());
    let (_, mine) = app.get("/api/v1/tutor/documents", Some(&tutor.token)).await;
    assert_eq!(mine["documents"], serde_json::json!([]));

    // Clean while clamd is up: served at once.
    let doc = upload_dbs(&app, &tutor, "2025-06-01").await;
    assert_eq!(doc["file"]["scan"], "clean");

    // clamd down: the upload is kept in quarantine and not served.
    clamd.up.store(false, Ordering::SeqCst);
    let doc = upload_dbs(&app, &tutor, "2025-07-01").await;
    assert_eq!(doc["file"]["scan"], "quarantined");
    let file_id = doc["file"]["id"].as_str().unwrap();
    assert_eq!(download(&app, &tutor, file_id).await.status().as_u16(), 409);
    assert_eq!(download(&app, &boss, file_id).await.status().as_u16(), 409);
    // Still down at the next retry: still quarantined.
    clock.advance(chrono::Duration::seconds(61));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(download(&app, &tutor, file_id).await.status().as_u16(), 409);

    // Back up: the next retry scans it and it is served.
    clamd.up.store(true, Ordering::SeqCst);
    clock.advance(chrono::Duration::seconds(61));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = download(&app, &tutor, file_id).await.status().as_u16();
        if status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {status} after the scanner came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
