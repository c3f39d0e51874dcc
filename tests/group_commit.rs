//! Group commit for chat with real clients and a real store: two server
//! nodes writing one conversation share its seqs without a gap or a
//! repeat; and the real binary killed with `kill -9` while batches are in
//! flight loses no acknowledged message, and a client resending what it
//! never heard back about gets the originals, never a second copy. (One
//! batch holding a duplicate or a too-long body is in the store's own
//! tests, `store/src/chat_batch.rs`: a conversation actor sends one
//! message at a time, so only the store sees two of one key at once.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};

use crate::common;
use common::process::{signal, start};
use common::*;

/// Every message of the topic, by seq, read by a fresh join.
async fn all_messages(app: &TestApp, user: &User, topic: &str) -> BTreeMap<u64, String> {
    let c = app.connect(user).await;
    let mut out = BTreeMap::new();
    let r = c
        .join(topic, json!({ "since_seq": 0 }))
        .await
        .expect("join");
    let mut more = r.response["more"].as_bool().unwrap();
    let mut page: Vec<Value> = r.response["messages"].as_array().unwrap().clone();
    loop {
        for m in &page {
            out.insert(
                m["seq"].as_u64().unwrap(),
                m["client_msg_id"].as_str().unwrap().to_owned(),
            );
        }
        if !more {
            return out;
        }
        let after = out.keys().last().copied().unwrap_or(0);
        let r = c
            .push(
                topic,
                "message:history",
                json!({ "after_seq": after, "limit": 100 }),
            )
            .await
            .expect("history");
        more = r.response["more"].as_bool().unwrap();
        page = r.response["messages"].as_array().unwrap().clone();
    }
}

fn send(n: usize, tag: &str) -> impl Iterator<Item = (String, Value)> + '_ {
    (0..n).map(move |i| {
        let id = format!("{tag}-{i}");
        let body = json!({ "client_msg_id": id, "body": format!("{tag} {i}") });
        (id, body)
    })
}

#[actix_web::test]
async fn two_nodes_on_one_store_share_a_conversations_seqs() {
    // The senders here go far above a person's pace.
    let config = || {
        let mut c = test_config();
        c.limits.messages_per_user_per_second = 10_000;
        c.socket.rate_burst = 1000.0;
        c
    };
    let a = spawn_app_with(config()).await;
    let node_b = cms_server::startup::Application::build_on_store(
        config(),
        std::sync::Arc::new(cms_actors::SystemClock),
        a.store.clone().unwrap(),
    )
    .await
    .expect("a second node builds");
    let b = serve(node_b);
    let t = thread(&a).await;
    let topic = topic(&t.conversation);
    let on_a = a.connect(&t.parent1).await;
    on_a.join(&topic, json!({})).await.expect("join on a");
    let on_b = b.connect(&t.parent2).await;
    on_b.join(&topic, json!({})).await.expect("join on b");

    let from_a: Vec<_> = send(60, "a")
        .map(|(_, body)| on_a.push(&topic, "message:send", body))
        .collect();
    let from_b: Vec<_> = send(60, "b")
        .map(|(_, body)| on_b.push(&topic, "message:send", body))
        .collect();
    let (acks_a, acks_b) = futures_util::future::join(
        futures_util::future::join_all(from_a),
        futures_util::future::join_all(from_b),
    )
    .await;
    let seqs = |acks: Vec<Result<cms_protocol::Reply, cms_loadtest::ClientError>>| -> Vec<u64> {
        acks.into_iter()
            .map(|r| {
                let r = r.expect("acknowledged");
                r.response["message"]["seq"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{r:?}"))
            })
            .collect()
    };
    let (seqs_a, seqs_b) = (seqs(acks_a), seqs(acks_b));
    // Each node keeps its sender's order.
    assert!(seqs_a.windows(2).all(|w| w[0] < w[1]), "{seqs_a:?}");
    assert!(seqs_b.windows(2).all(|w| w[0] < w[1]), "{seqs_b:?}");
    let mut every: Vec<u64> = seqs_a.iter().chain(&seqs_b).copied().collect();
    every.sort_unstable();
    assert_eq!(every, (1..=120).collect::<Vec<u64>>(), "no gap, no repeat");

    let stored = all_messages(&a, &t.tutor, &topic).await;
    assert_eq!(stored.len(), 120);
    for (seq, id) in seqs_a.iter().zip(send(60, "a").map(|(id, _)| id)) {
        assert_eq!(stored[seq], id);
    }
    for (seq, id) in seqs_b.iter().zip(send(60, "b").map(|(id, _)| id)) {
        assert_eq!(stored[seq], id);
    }
}

#[tokio::test]
async fn kill_9_mid_batch_loses_no_acknowledged_message_and_a_resend_is_not_doubled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path());
    let app = TestApp::remote(server.port);
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let c = app.connect(&t.tutor).await;
    c.join(&topic, json!({})).await.expect("join");

    // 400 sends at once; after the first 50 acknowledgements, kill -9:
    // batches are committing, committed and unanswered, and queued.
    let mut pending: FuturesUnordered<_> = send(400, "m")
        .map(|(id, body)| {
            let c = &c;
            let topic = &topic;
            async move { (id, c.push(topic, "message:send", body).await) }
        })
        .collect();
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    while let Some((id, reply)) = pending.next().await {
        if let Ok(r) = reply {
            acked.insert(id, r.response["message"]["seq"].as_u64().unwrap());
        }
        if acked.len() == 50 {
            signal(&server.child, "-KILL");
            break;
        }
    }
    drop(pending);
    drop(server);

    let server = start(dir.path());
    let app = TestApp::remote(server.port);
    let stored = all_messages(&app, &t.parent1, &topic).await;
    let n = stored.len() as u64;
    assert!(n >= 50, "at least what was acknowledged: {n}");
    assert_eq!(
        stored.keys().copied().collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>(),
        "no gap"
    );
    for (id, seq) in &acked {
        assert_eq!(stored.get(seq), Some(id), "acknowledged {id} at {seq}");
    }

    // The client sends again everything, as a reconnecting app does with
    // what it has not seen acknowledged: the stored ones come back as they
    // were, the rest are stored once.
    let c = app.connect(&t.tutor).await;
    c.join(&topic, json!({})).await.expect("join");
    let again: Vec<_> = send(400, "m")
        .map(|(_, body)| c.push(&topic, "message:send", body))
        .collect();
    let again = futures_util::future::join_all(again).await;
    for ((id, _), reply) in send(400, "m").zip(again) {
        let seq = reply.expect("acknowledged").response["message"]["seq"]
            .as_u64()
            .unwrap();
        if let Some(first) = acked.get(&id) {
            assert_eq!(seq, *first, "{id} answered with its original");
        }
    }
    let stored = all_messages(&app, &t.parent2, &topic).await;
    assert_eq!(stored.len(), 400, "each once");
    assert_eq!(
        stored.keys().copied().collect::<Vec<_>>(),
        (1..=400).collect::<Vec<u64>>()
    );
    let mut ids: Vec<&String> = stored.values().collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 400);
}
