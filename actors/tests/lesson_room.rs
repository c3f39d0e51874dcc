//! A lesson room that panics is restarted in place: its sockets and
//! presence stay, the lesson is read again through the port, and a
//! `lesson:status` going live then hands each socket its own video.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cms_actors::lesson_port::{LessonPort, LessonPortError, LessonView, Transitioned};
use cms_actors::messages::{Broadcast, ClientEvent, Join, Push};
use cms_actors::registry::GetLesson;
use cms_actors::{Identity, Registry, Role, SystemClock};
use cms_domain::lesson::LessonStatus;
use cms_protocol::calendar::Person;
use cms_protocol::lesson::{EndLesson, LessonInfo, LessonStatusPush};
use cms_protocol::{Topic, event};
use serde_json::{Value, json};

/// A lesson in memory whose `start` panics the first time.
#[derive(Default)]
struct FakePort {
    loads: AtomicUsize,
    starts: AtomicUsize,
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn info(status: LessonStatus) -> LessonInfo {
    LessonInfo {
        id: "l1".into(),
        status,
        start: at("2027-03-10T16:00:00Z"),
        end: at("2027-03-10T17:00:00Z"),
        tutor: Person {
            id: "t".into(),
            name: "Tutor".into(),
        },
        students: Vec::new(),
        attendance: Vec::new(),
    }
}

#[async_trait]
impl LessonPort for FakePort {
    async fn load(&self, _: &str) -> Result<LessonView, LessonPortError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        // Live once a start has gone through (the first one panics).
        let status = if self.starts.load(Ordering::SeqCst) >= 2 {
            LessonStatus::Live
        } else {
            LessonStatus::Booked
        };
        Ok(LessonView {
            info: info(status),
            rescheduled_to: None,
            member_ids: vec!["t".into(), "p".into()],
            room_key: "l1".into(),
        })
    }

    async fn start(&self, _: &Identity, _: &str) -> Result<Transitioned, LessonPortError> {
        if self.starts.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("injected failure");
        }
        Ok(Transitioned {
            info: info(LessonStatus::Live),
            at: at("2027-03-10T16:00:00Z"),
        })
    }

    async fn end(
        &self,
        _: &Identity,
        _: &str,
        _: EndLesson,
    ) -> Result<Transitioned, LessonPortError> {
        Err(LessonPortError::Conflict("not live".into()))
    }

    fn video(&self, who: &Identity, lesson: &LessonView) -> Option<Value> {
        Some(json!({ "for": who.user_id, "moderator": lesson.is_tutor(who) }))
    }
}

/// Stands in for a socket: records what it is pushed.
struct Collector(Arc<Mutex<Vec<Push>>>);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<Push> for Collector {
    type Result = ();
    fn handle(&mut self, msg: Push, _: &mut Context<Self>) {
        self.0.lock().expect("lock").push(msg);
    }
}

fn identity(user: &str) -> Identity {
    Identity {
        user_id: user.into(),
        name: user.into(),
        role: if user == "t" {
            Role::Tutor
        } else {
            Role::Parent
        },
        session_id: format!("s-{user}"),
    }
}

fn videos(inbox: &Arc<Mutex<Vec<Push>>>) -> Vec<Value> {
    inbox
        .lock()
        .expect("lock")
        .iter()
        .filter(|p| p.event == event::VIDEO_READY)
        .map(|p| serde_json::from_str(&p.payload).unwrap())
        .collect()
}

#[actix_rt::test]
async fn a_panicking_room_restarts_reads_the_lesson_again_and_hands_out_video() {
    let port = Arc::new(FakePort::default());
    let registry = Registry::new(
        Arc::new(NoChat),
        Arc::new(SystemClock),
        Duration::from_secs(300),
    )
    .with_lessons(port.clone())
    .start();
    let room = registry.send(GetLesson("l1".into())).await.unwrap();
    let inboxes: Vec<_> = (0..2).map(|_| Arc::new(Mutex::new(Vec::new()))).collect();
    for (i, (inbox, user)) in inboxes.iter().zip(["t", "p"]).enumerate() {
        let joined = room
            .send(Join {
                socket_id: i as u64 + 1,
                identity: identity(user),
                recipient: Collector(inbox.clone()).start().recipient(),
                params: json!({}),
            })
            .await
            .unwrap()
            .expect("a member joins");
        assert_eq!(joined.response["lesson"]["status"], "booked");
        assert!(joined.response.get("video").is_none());
    }
    let stranger = room
        .send(Join {
            socket_id: 9,
            identity: identity("x"),
            recipient: Collector(Arc::default()).start().recipient(),
            params: json!({}),
        })
        .await
        .unwrap();
    assert_eq!(stranger.unwrap_err().response["reason"], "unauthorized");
    let loads = port.loads.load(Ordering::SeqCst);

    let start = || ClientEvent {
        socket_id: 1,
        identity: identity("t"),
        event: event::LESSON_START.into(),
        payload: json!({}),
    };
    let failed = room.send(start()).await.expect("the address survives");
    assert_eq!(failed.unwrap_err().response["reason"], "internal");
    let ok = room.send(start()).await.expect("restarted room answers");
    assert_eq!(ok.unwrap()["lesson"]["status"], "live");

    // The use case's push, as the broker delivers it.
    let status = LessonStatusPush {
        status: LessonStatus::Live,
        at: at("2027-03-10T16:00:00Z"),
        by: Some("t".into()),
    };
    let push = Push::new(Topic::Session("l1".into()), event::LESSON_STATUS, &status);
    room.do_send(Broadcast(push));
    for _ in 0..200 {
        if inboxes.iter().all(|i| !videos(i).is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        port.loads.load(Ordering::SeqCst) > loads,
        "the lesson was read again after the restart"
    );
    assert_eq!(
        videos(&inboxes[0]),
        [json!({ "for": "t", "moderator": true })]
    );
    assert_eq!(
        videos(&inboxes[1]),
        [json!({ "for": "p", "moderator": false })]
    );
    for inbox in &inboxes {
        let statuses = inbox
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.event == event::LESSON_STATUS)
            .count();
        assert_eq!(statuses, 1, "sockets kept across the restart");
    }
}

/// The room never reaches the chat store.
struct NoChat;

#[async_trait]
impl cms_actors::ChatStore for NoChat {
    async fn conversation(
        &self,
        _: &str,
    ) -> Result<cms_actors::store::ConversationInfo, cms_actors::StoreError> {
        Err(cms_actors::StoreError::NotFound)
    }
    async fn group_members(
        &self,
        _: cms_actors::store::GroupKind,
        _: &str,
    ) -> Result<Vec<String>, cms_actors::StoreError> {
        Err(cms_actors::StoreError::NotFound)
    }
    async fn latest_seq(&self, _: &str) -> Result<u64, cms_actors::StoreError> {
        Err(cms_actors::StoreError::NotFound)
    }
    async fn append_message(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
    ) -> Result<cms_actors::store::Appended, cms_actors::StoreError> {
        Err(cms_actors::StoreError::NotFound)
    }
    async fn messages_after(
        &self,
        _: &str,
        _: u64,
        _: usize,
    ) -> Result<Vec<cms_protocol::chat::Message>, cms_actors::StoreError> {
        Err(cms_actors::StoreError::NotFound)
    }
    async fn messages_before(
        &self,
        _: &str,
        _: u64,
        _: usize,
    ) -> Result<Vec<cms_protocol::chat::Message>, cms_actors::StoreError> {
        Err(cms_actors::StoreError::NotFound)
    }
    async fn set_read_mark(
        &self,
        _: &str,
        _: &str,
        _: u64,
        _: DateTime<Utc>,
    ) -> Result<u64, cms_actors::StoreError> {
        Err(cms_actors::StoreError::NotFound)
    }
    async fn revise_message(
        &self,
        _: &str,
        _: u64,
        _: &str,
        _: Option<&str>,
        _: DateTime<Utc>,
    ) -> Result<cms_protocol::chat::Message, cms_actors::StoreError> {
        Err(cms_actors::StoreError::NotFound)
    }
}
