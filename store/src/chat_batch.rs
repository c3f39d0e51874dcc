//! Group commit for chat (docs/architecture.md, "How a message flows"):
//! messages from many conversations stored in one transaction, each still
//! getting the next gap-free seq of its conversation, each duplicate
//! `client_msg_id` answered with its original, and one bad message never
//! failing the others.
//!
//! A batch is two round trips. First a read, by record id only (no index,
//! no plan): the batch's idempotency keys (`message_key:[conversation,
//! sender, client_msg_id]`, which replaced a unique index) and the
//! conversations' counters. The seqs are then numbered here, in arrival
//! order, skipping duplicates, so a seq is never spent on a message that
//! is not stored. Then one transaction: each conversation's counter moves
//! from what was read to its new top — or the transaction throws, because
//! another process wrote meanwhile — and the messages and their keys are
//! inserted, every row with its record id. A conflict re-reads and tries
//! again; any other failure stores the batch one message at a time, so
//! only the bad message is refused.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cms_protocol::chat::{self, Message};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chat::Appended;
use super::{Store, StoreError, ts};

/// Times a batch is numbered again after another writer moved one of its
/// conversations on, each after a short, growing, jittered wait.
const CONFLICT_ROUNDS: u32 = 16;

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation: String,
    pub sender: String,
    pub client_msg_id: String,
    pub body: String,
    pub at: DateTime<Utc>,
}

impl NewMessage {
    fn key(&self) -> (&str, &str, &str) {
        (&self.conversation, &self.sender, &self.client_msg_id)
    }

    /// What the schema would refuse, refused here for this message alone.
    fn check(&self) -> Result<(), String> {
        chat::check_body(&self.body).map_err(|m| m.to_string())?;
        if self.client_msg_id.is_empty()
            || self.client_msg_id.chars().count() > chat::MAX_CLIENT_MSG_ID_LEN
        {
            return Err("client_msg_id must be 1 to 64 characters".into());
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct KeyRow {
    conversation: String,
    sender: String,
    client_msg_id: String,
    seq: u64,
}

#[derive(Deserialize)]
struct CounterRow {
    id: String,
    last_seq: u64,
}

#[derive(Serialize)]
struct Row<'a> {
    conversation: &'a str,
    seq: u64,
    sender: &'a str,
    body: &'a str,
    client_msg_id: &'a str,
    at: String,
}

#[derive(Serialize)]
struct Counter<'a> {
    id: &'a str,
    from: u64,
    to: u64,
    at: String,
}

/// What became of each message of a batch once it was numbered.
enum Plan {
    /// Stored with this seq (once the transaction commits).
    New(u64),
    /// Stored before: its conversation and seq.
    Stored(u64),
    /// The same key earlier in this batch: answered with that message.
    SameAs(usize),
    Refused(StoreError),
}

const READ: &str = "
    SELECT record::id(id)[0] AS conversation, record::id(id)[1] AS sender,
        record::id(id)[2] AS client_msg_id, seq
    FROM array::map($keys, |$k| type::record('message_key', $k)) WHERE seq != NONE;
    SELECT record::id(id) AS id, last_seq
    FROM array::map($convs, |$c| type::record('conversation', $c)) WHERE last_seq != NONE;";

const WRITE: &str = "BEGIN TRANSACTION;
    FOR $c IN $counters {
        LET $conv = type::record('conversation', $c.id);
        IF (SELECT VALUE last_seq FROM ONLY $conv) != $c.from {
            THROW 'conflict: another writer moved the conversation on';
        };
        UPDATE $conv SET last_seq = $c.to, last_message_at = <datetime>$c.at RETURN NONE;
    };
    INSERT INTO message array::map($rows, |$r| {
        id: type::record('message', [$r.conversation, $r.seq]),
        conversation: type::record('conversation', $r.conversation), seq: $r.seq,
        sender: type::record('user', $r.sender), body: $r.body,
        client_msg_id: $r.client_msg_id, sent_at: <datetime>$r.at
    }) RETURN NONE;
    INSERT INTO message_key array::map($rows, |$r| {
        id: type::record('message_key', [$r.conversation, $r.sender, $r.client_msg_id]),
        seq: $r.seq
    }) RETURN NONE;
    COMMIT TRANSACTION;";

impl Store {
    /// Stores a batch of messages, answering each in order: `New` with its
    /// seq, `Duplicate` with the original, or its own error. Conversations
    /// that do not exist are refused one by one (`NotFound`).
    pub async fn append_batch(&self, batch: &[NewMessage]) -> Vec<Result<Appended, StoreError>> {
        let mut round = 0;
        loop {
            match self.try_batch(batch).await {
                Ok(answers) => return answers,
                // Another process numbered one of these conversations
                // first: number them again from what is stored now.
                Err(
                    StoreError::Refused(_) | StoreError::Duplicate(_) | StoreError::Conflict(_),
                ) if round < CONFLICT_ROUNDS => {
                    round += 1;
                    // Writers that collided wait apart before reading again.
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 4);
                    let ms = (1u64 << round.min(5)) + jitter;
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                Err(e) if batch.len() == 1 => return vec![Err(e)],
                // Something in the batch the checks above did not catch:
                // each message on its own, so only that one fails.
                Err(e) => {
                    tracing::warn!(error = %e, size = batch.len(), "batch refused; storing one by one");
                    let mut out = Vec::with_capacity(batch.len());
                    for m in batch {
                        let one = Box::pin(self.append_batch(std::slice::from_ref(m))).await;
                        out.extend(one);
                    }
                    return out;
                }
            }
        }
    }

    async fn try_batch(
        &self,
        batch: &[NewMessage],
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        let keys: Vec<[&str; 3]> = batch
            .iter()
            .map(|m| {
                [
                    m.conversation.as_str(),
                    m.sender.as_str(),
                    m.client_msg_id.as_str(),
                ]
            })
            .collect();
        let mut convs: Vec<&str> = batch.iter().map(|m| m.conversation.as_str()).collect();
        convs.sort_unstable();
        convs.dedup();
        let vars = json!({ "keys": keys, "convs": convs });
        let mut read = self.values(READ, vars, &[0, 1]).await?.into_iter();
        let stored: Vec<KeyRow> = rows_of(read.next())?;
        let counters: Vec<CounterRow> = rows_of(read.next())?;
        let stored: HashMap<(&str, &str, &str), u64> = stored
            .iter()
            .map(|k| {
                (
                    (
                        k.conversation.as_str(),
                        k.sender.as_str(),
                        k.client_msg_id.as_str(),
                    ),
                    k.seq,
                )
            })
            .collect();
        let read_top: HashMap<&str, u64> = counters
            .iter()
            .map(|c| (c.id.as_str(), c.last_seq))
            .collect();

        // Number the batch in arrival order.
        let mut next: HashMap<&str, u64> = read_top.clone();
        let mut first_of: HashMap<(&str, &str, &str), usize> = HashMap::new();
        let mut plans = Vec::with_capacity(batch.len());
        for (i, m) in batch.iter().enumerate() {
            let plan = if let Err(e) = m.check() {
                Plan::Refused(StoreError::Invalid(e))
            } else if let Some(seq) = stored.get(&m.key()) {
                Plan::Stored(*seq)
            } else if let Some(j) = first_of.get(&m.key()) {
                Plan::SameAs(*j)
            } else if let Some(top) = next.get_mut(m.conversation.as_str()) {
                *top += 1;
                first_of.insert(m.key(), i);
                Plan::New(*top)
            } else {
                Plan::Refused(StoreError::NotFound)
            };
            plans.push(plan);
        }

        let rows: Vec<Row<'_>> = batch
            .iter()
            .zip(&plans)
            .filter_map(|(m, p)| match p {
                Plan::New(seq) => Some(Row {
                    conversation: &m.conversation,
                    seq: *seq,
                    sender: &m.sender,
                    body: &m.body,
                    client_msg_id: &m.client_msg_id,
                    at: ts(m.at),
                }),
                _ => None,
            })
            .collect();
        if !rows.is_empty() {
            let counters: Vec<Counter<'_>> = next
                .iter()
                .filter(|(id, top)| read_top.get(*id) != Some(*top))
                .map(|(id, top)| Counter {
                    id,
                    from: read_top.get(id).copied().unwrap_or_default(),
                    to: *top,
                    at: ts(batch
                        .iter()
                        .filter(|m| m.conversation == *id)
                        .map(|m| m.at)
                        .max()
                        .unwrap_or_default()),
                })
                .collect();
            self.value(WRITE, json!({ "counters": counters, "rows": rows }), 0)
                .await?;
        }

        // Answer each: the new ones from what was written, the others
        // from the store; a repeat inside the batch with its first.
        let mut out: Vec<Result<Appended, StoreError>> = Vec::with_capacity(plans.len());
        for (m, p) in batch.iter().zip(plans) {
            let answer = match p {
                Plan::New(seq) => Ok(Appended::New(message(m, seq))),
                Plan::Refused(e) => Err(e),
                Plan::Stored(seq) => self
                    .message_at(&m.conversation, seq)
                    .await
                    .map(Appended::Duplicate),
                Plan::SameAs(j) => match out.get(j) {
                    Some(Ok(Appended::New(first) | Appended::Duplicate(first))) => {
                        Ok(Appended::Duplicate(first.clone()))
                    }
                    _ => Err(StoreError::NotFound),
                },
            };
            out.push(answer);
        }
        Ok(out)
    }
}

/// The message as stored by the batch.
fn message(m: &NewMessage, seq: u64) -> Message {
    Message {
        id: format!("{}.{}", m.conversation, seq),
        conversation_id: m.conversation.clone(),
        seq,
        sender_id: m.sender.clone(),
        body: m.body.clone(),
        // As stored: to the microsecond.
        sent_at: DateTime::from_timestamp_micros(m.at.timestamp_micros()).unwrap_or(m.at),
        client_msg_id: m.client_msg_id.clone(),
        edited_at: None,
        deleted_at: None,
    }
}

/// A statement's rows (none for NONE).
fn rows_of<T: serde::de::DeserializeOwned>(
    v: Option<serde_json::Value>,
) -> Result<Vec<T>, serde_json::Error> {
    Ok(match v {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatabaseConfig;

    async fn store_with(convs: &[&str]) -> Store {
        let cfg = DatabaseConfig {
            url: "mem://".into(),
            ..DatabaseConfig::default()
        };
        let store = Store::open(&cfg).await.unwrap();
        for c in convs {
            store
                .value(
                    "CREATE type::record('conversation', $c) SET family = family:f, tutor = user:t,
                         last_seq = 0, created_at = time::now()",
                    json!({ "c": c }),
                    0,
                )
                .await
                .unwrap();
        }
        store
    }

    fn msg(conv: &str, cmid: &str, body: &str) -> NewMessage {
        NewMessage {
            conversation: conv.into(),
            sender: "p1".into(),
            client_msg_id: cmid.into(),
            body: body.into(),
            at: "2027-03-10T12:00:00.123456789Z".parse().unwrap(),
        }
    }

    fn seq(a: &Result<Appended, StoreError>) -> (char, u64) {
        match a {
            Ok(Appended::New(m)) => ('n', m.seq),
            Ok(Appended::Duplicate(m)) => ('d', m.seq),
            Err(_) => ('e', 0),
        }
    }

    async fn stored(store: &Store, conv: &str) -> Vec<(u64, String)> {
        store
            .messages_after(conv, 0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.seq, m.client_msg_id))
            .collect()
    }

    #[tokio::test]
    async fn a_batch_numbers_each_conversation_without_gaps_and_skips_what_it_refuses() {
        let store = store_with(&["a", "b"]).await;
        let long = "x".repeat(chat::MAX_BODY_CHARS + 1);
        let batch = [
            msg("a", "1", "hello"),
            msg("b", "1", "hi"),
            msg("a", "2", &long),
            msg("a", "1", "hello again"),
            msg("nowhere", "1", "lost"),
            msg("a", "3", "third"),
            msg("b", "2", "there"),
        ];
        let got: Vec<_> = store.append_batch(&batch).await.iter().map(seq).collect();
        assert_eq!(
            got,
            vec![
                ('n', 1),
                ('n', 1),
                ('e', 0),
                ('d', 1),
                ('e', 0),
                ('n', 2),
                ('n', 2)
            ]
        );
        assert_eq!(
            stored(&store, "a").await,
            vec![(1, "1".into()), (2, "3".into())]
        );
        assert_eq!(store.latest_seq("a").await.unwrap(), 2);
        assert_eq!(store.latest_seq("b").await.unwrap(), 2);

        // Across batches: the original comes back and nothing is stored.
        let again = store
            .append_batch(&[msg("a", "3", "third, resent"), msg("a", "4", "fourth")])
            .await;
        let again: Vec<_> = again.iter().map(seq).collect();
        assert_eq!(again, vec![('d', 2), ('n', 3)]);
        let stored_a = store.messages_after("a", 0, 100).await.unwrap();
        assert_eq!(stored_a[1].body, "third");
        assert_eq!(stored_a.len(), 3);
    }

    #[tokio::test]
    async fn concurrent_writers_to_one_conversation_never_share_or_skip_a_seq() {
        let store = store_with(&["a"]).await;
        let mut tasks = Vec::new();
        for w in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                for i in 0..10 {
                    let batch = [msg("a", &format!("{w}-{i}"), "hi")];
                    for a in store.append_batch(&batch).await {
                        match a {
                            Ok(Appended::New(m)) => mine.push(m.seq),
                            other => panic!("{w}-{i}: {other:?}"),
                        }
                    }
                }
                mine
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            let mine = t.await.unwrap();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "each writer's in order"
            );
            all.extend(mine);
        }
        all.sort_unstable();
        assert_eq!(all, (1..=40).collect::<Vec<u64>>());
        assert_eq!(stored(&store, "a").await.len(), 40);
    }
}
