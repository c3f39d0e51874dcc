//! A conversation actor that panics is restarted in place: its sockets stay
//! subscribed, its members are reloaded from the store, and it goes on
//! assigning seqs from the store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cms_actors::messages::{ClientEvent, Join, Push};
use cms_actors::registry::GetConversation;
use cms_actors::store::{Appended, ChatStore, ConversationInfo, GroupKind, StoreError};
use cms_actors::{Identity, Registry, Role, SystemClock};
use cms_protocol::chat::Message;
use serde_json::json;

/// An in-memory store whose append panics on the body "panic!".
#[derive(Default)]
struct FakeStore {
    messages: Mutex<Vec<Message>>,
    loads: AtomicUsize,
}

#[async_trait]
impl ChatStore for FakeStore {
    async fn conversation(&self, id: &str) -> Result<ConversationInfo, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        Ok(ConversationInfo {
            id: id.into(),
            family_id: "f".into(),
            tutor_id: "t".into(),
            member_ids: vec!["p".into(), "t".into()],
        })
    }
    async fn group_members(&self, _: GroupKind, _: &str) -> Result<Vec<String>, StoreError> {
        Err(StoreError::NotFound)
    }
    async fn latest_seq(&self, _: &str) -> Result<u64, StoreError> {
        Ok(self.messages.lock().expect("lock").len() as u64)
    }
    async fn append_message(
        &self,
        conv: &str,
        sender: &str,
        cmid: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<Appended, StoreError> {
        if body == "panic!" {
            panic!("injected failure");
        }
        let mut all = self.messages.lock().expect("lock");
        let seq = all.len() as u64 + 1;
        let m = Message {
            id: format!("{conv}.{seq}"),
            conversation_id: conv.into(),
            seq,
            sender_id: sender.into(),
            body: body.into(),
            sent_at: at,
            client_msg_id: cmid.into(),
            edited_at: None,
            deleted_at: None,
        };
        all.push(m.clone());
        Ok(Appended::New(m))
    }
    async fn messages_after(&self, _: &str, _: u64, _: usize) -> Result<Vec<Message>, StoreError> {
        Ok(Vec::new())
    }
    async fn messages_before(&self, _: &str, _: u64, _: usize) -> Result<Vec<Message>, StoreError> {
        Ok(Vec::new())
    }
    async fn set_read_mark(
        &self,
        _: &str,
        _: &str,
        seq: u64,
        _: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(seq)
    }
    async fn revise_message(
        &self,
        _: &str,
        _: u64,
        _: &str,
        _: Option<&str>,
        _: DateTime<Utc>,
    ) -> Result<Message, StoreError> {
        Err(StoreError::NotFound)
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

fn send(user: &str, body: &str) -> ClientEvent {
    ClientEvent {
        socket_id: 1,
        identity: identity(user),
        event: "message:send".into(),
        payload: json!({ "client_msg_id": body, "body": body }),
    }
}

fn news(pushes: &Arc<Mutex<Vec<Push>>>) -> Vec<String> {
    pushes
        .lock()
        .expect("lock")
        .iter()
        .filter(|p| p.event == "message:new")
        .map(|p| p.payload.to_string())
        .collect()
}

#[actix_rt::test]
async fn a_panicking_conversation_restarts_and_keeps_its_sockets() {
    let store = Arc::new(FakeStore::default());
    let registry = Registry::new(
        store.clone(),
        Arc::new(SystemClock),
        Duration::from_secs(300),
    )
    .start();
    let conv = registry
        .send(GetConversation("c1".into()))
        .await
        .expect("registry");
    let inboxes: Vec<_> = (0..2).map(|_| Arc::new(Mutex::new(Vec::new()))).collect();
    for (i, (inbox, user)) in inboxes.iter().zip(["p", "t"]).enumerate() {
        let recipient = Collector(inbox.clone()).start().recipient();
        let joined = conv
            .send(Join {
                socket_id: i as u64 + 1,
                identity: identity(user),
                recipient,
                params: json!({}),
            })
            .await
            .expect("mailbox");
        assert!(joined.is_ok());
    }
    assert!(
        conv.send(send("p", "before"))
            .await
            .expect("mailbox")
            .is_ok()
    );
    assert_eq!(store.loads.load(Ordering::SeqCst), 1);

    let failed = conv
        .send(send("p", "panic!"))
        .await
        .expect("the address survives the panic");
    let reply = failed.expect_err("the panicking request gets an error reply");
    assert_eq!(reply.response["reason"], "internal");

    let after = conv
        .send(send("t", "after"))
        .await
        .expect("restarted actor answers");
    assert_eq!(after.expect("ok")["message"]["seq"], 2);
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        2,
        "members reloaded from the store"
    );
    for inbox in &inboxes {
        // Pushes are fire-and-forget: wait for the second to land.
        for _ in 0..200 {
            if news(inbox).len() >= 2 {
                break;
            }
            actix_rt::task::yield_now().await;
        }
        let got = news(inbox);
        assert_eq!(got.len(), 2, "both sockets still subscribed: {got:?}");
        assert!(got[1].contains("\"after\""));
    }
}
