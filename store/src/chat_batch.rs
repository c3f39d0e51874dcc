//! Group commit for chat (docs/architecture.md, "How a chat message
//! flows"): messages from many conversations stored in one transaction,
//! each still getting the next gap-free seq of its conversation, each
//! duplicate `client_msg_id` answered with its original, and one bad
//! message never failing the others.
//!
//! The writer numbers a batch itself from the conversations' counters it
//! knows ([`Counters`]: read by record id the first time a conversation
//! is written, then kept), and writes it in **one transaction**: each
//! counter moves from what was known to its new top — or the transaction
//! throws, because another process wrote meanwhile — and the messages
//! (`message:[conversation, seq]`) and their idempotency keys
//! (`message_key:[conversation, sender, client_msg_id]`, which replaced a
//! unique index) are inserted, every value bound as SurrealDB's own
//! (record ids, datetimes), so the statement converts nothing.
//!
//! That write is optimistic. If another writer moved a counter, the
//! counters are read again and the batch numbered again. If a key was
//! taken (a message sent before, answered as a duplicate), the batch's
//! keys are read by id first and the duplicates set aside, so no seq is
//! spent on them. Anything else stores the batch one message at a time,
//! so only the bad message is refused.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cms_protocol::chat::{self, Message};
use serde::Deserialize;
use serde_json::json;

use surrealdb::types::{Array, Datetime, Number, Object, RecordId, RecordIdKey, Value as Sv};

use super::chat::Appended;
use super::{Store, StoreError};

/// Times a batch is numbered again after another writer moved one of its
/// conversations on, each after a short, growing, jittered wait.
const CONFLICT_ROUNDS: u32 = 16;
/// Conversations whose counters a writer keeps; past this it forgets them
/// all and reads again as they are written.
const COUNTERS_KEPT: usize = 100_000;

/// The writer's knowledge of conversations' `last_seq`: a cache, checked
/// against the store in every write. Shared by the batches a writer has in
/// flight (each conversation is in one at a time), so it is locked only to
/// read or set a value, never across a write.
#[derive(Debug, Default)]
pub struct Counters(std::sync::Mutex<HashMap<String, u64>>);

impl Counters {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

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

const READ_KEYS: &str = "
    SELECT record::id(id)[0] AS conversation, record::id(id)[1] AS sender,
        record::id(id)[2] AS client_msg_id, seq
    FROM array::map($keys, |$k| type::record('message_key', $k)) WHERE seq != NONE;";

const READ_COUNTERS: &str = "
    SELECT record::id(id) AS id, last_seq
    FROM array::map($convs, |$c| type::record('conversation', $c)) WHERE last_seq != NONE;";

const WRITE: &str = "BEGIN TRANSACTION;
    FOR $c IN $counters {
        IF (SELECT VALUE last_seq FROM ONLY $c.id) != $c.from {
            THROW 'conflict: another writer moved the conversation on';
        };
        UPDATE $c.id SET last_seq = $c.to, last_message_at = $c.at RETURN NONE;
    };
    INSERT INTO message $rows RETURN NONE;
    INSERT INTO message_key $keys RETURN NONE;
    COMMIT TRANSACTION;";

impl Store {
    /// Stores a batch of messages, answering each in order: `New` with its
    /// seq, `Duplicate` with the original, or its own error. Conversations
    /// that do not exist are refused one by one (`NotFound`). `counters`
    /// is the caller's knowledge of the conversations' last seqs, kept
    /// across batches.
    pub async fn append_batch(
        &self,
        batch: &[NewMessage],
        counters: &Counters,
    ) -> Vec<Result<Appended, StoreError>> {
        let mut round = 0;
        let mut read_keys = false;
        loop {
            match self.try_batch(batch, counters, read_keys).await {
                Ok(answers) => return answers,
                // A key was taken: a message sent before. Look at the
                // batch's keys, then number again without the duplicates.
                Err(StoreError::Duplicate(_)) if !read_keys => read_keys = true,
                // Another process numbered one of these conversations
                // first: read its counter again and number again.
                Err(
                    StoreError::Refused(_) | StoreError::Duplicate(_) | StoreError::Conflict(_),
                ) if round < CONFLICT_ROUNDS => {
                    round += 1;
                    {
                        let mut known = counters.map();
                        for m in batch {
                            known.remove(&m.conversation);
                        }
                    }
                    // Writers that collided wait apart before reading again.
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 4);
                    let ms = (1u64 << round.min(5)) + jitter;
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                Err(e) if batch.len() == 1 => return vec![Err(e)],
                // Something in the batch the checks did not catch: each
                // message on its own, so only that one fails.
                Err(e) => {
                    tracing::warn!(error = %e, size = batch.len(), "batch refused; storing one by one");
                    let mut out = Vec::with_capacity(batch.len());
                    for m in batch {
                        let one = Box::pin(self.append_batch(std::slice::from_ref(m), counters));
                        out.extend(one.await);
                    }
                    return out;
                }
            }
        }
    }

    async fn try_batch(
        &self,
        batch: &[NewMessage],
        counters: &Counters,
        read_keys: bool,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        let mut unknown: Vec<&str> = {
            let mut known = counters.map();
            if known.len() > COUNTERS_KEPT {
                known.clear();
            }
            batch
                .iter()
                .map(|m| m.conversation.as_str())
                .filter(|c| !known.contains_key(*c))
                .collect()
        };
        if !unknown.is_empty() {
            unknown.sort_unstable();
            unknown.dedup();
            let read: Vec<CounterRow> = self
                .rows(READ_COUNTERS, json!({ "convs": unknown }), 0)
                .await?;
            let mut known = counters.map();
            for c in read {
                known.insert(c.id, c.last_seq);
            }
        }
        let stored: Vec<KeyRow> = if read_keys {
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
            self.rows(READ_KEYS, json!({ "keys": keys }), 0).await?
        } else {
            Vec::new()
        };
        let stored: HashMap<(&str, &str, &str), u64> = stored
            .iter()
            .map(|k| {
                let key = (
                    k.conversation.as_str(),
                    k.sender.as_str(),
                    k.client_msg_id.as_str(),
                );
                (key, k.seq)
            })
            .collect();

        // Number the batch in arrival order.
        let mut next: HashMap<&str, u64> = HashMap::new();
        let mut from: HashMap<&str, u64> = HashMap::new();
        let mut first_of: HashMap<(&str, &str, &str), usize> = HashMap::new();
        let mut plans = Vec::with_capacity(batch.len());
        for (i, m) in batch.iter().enumerate() {
            let known = counters.map().get(m.conversation.as_str()).copied();
            let plan = if let Err(e) = m.check() {
                Plan::Refused(StoreError::Invalid(e))
            } else if let Some(seq) = stored.get(&m.key()) {
                Plan::Stored(*seq)
            } else if let Some(j) = first_of.get(&m.key()) {
                Plan::SameAs(*j)
            } else if let Some(last) = known {
                from.entry(m.conversation.as_str()).or_insert(last);
                let top = next.entry(m.conversation.as_str()).or_insert(last);
                *top += 1;
                first_of.insert(m.key(), i);
                Plan::New(*top)
            } else {
                Plan::Refused(StoreError::NotFound)
            };
            plans.push(plan);
        }

        if !next.is_empty() {
            let vars = write_vars(batch, &plans, &from, &next);
            self.run_native(WRITE, vars).await?;
            let mut known = counters.map();
            for (conv, top) in &next {
                known.insert((*conv).to_owned(), *top);
            }
            drop(known);
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

/// The write's variables as SurrealDB's own values: record ids and
/// datetimes as such, so the statement converts nothing.
fn write_vars(
    batch: &[NewMessage],
    plans: &[Plan],
    from: &HashMap<&str, u64>,
    tops: &HashMap<&str, u64>,
) -> Object {
    let int = |n: u64| Sv::Number(Number::Int(i64::try_from(n).unwrap_or(i64::MAX)));
    let text = |s: &str| Sv::String(s.to_owned());
    let rid = |table: &str, key: RecordIdKey| Sv::RecordId(RecordId::new(table, key));
    let obj = |fields: Vec<(&str, Sv)>| {
        Sv::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let mut rows = Vec::new();
    let mut keys = Vec::new();
    for (m, p) in batch.iter().zip(plans) {
        let Plan::New(seq) = p else { continue };
        let at = Sv::Datetime(Datetime::from(micros(m.at)));
        let id: Array = [text(&m.conversation), int(*seq)].into_iter().collect();
        rows.push(obj(vec![
            ("id", rid("message", RecordIdKey::from(id))),
            (
                "conversation",
                rid("conversation", m.conversation.clone().into()),
            ),
            ("seq", int(*seq)),
            ("sender", rid("user", m.sender.clone().into())),
            ("body", text(&m.body)),
            ("client_msg_id", text(&m.client_msg_id)),
            ("sent_at", at),
        ]));
        let key: Array = [
            text(&m.conversation),
            text(&m.sender),
            text(&m.client_msg_id),
        ]
        .into_iter()
        .collect();
        keys.push(obj(vec![
            ("id", rid("message_key", RecordIdKey::from(key))),
            ("seq", int(*seq)),
        ]));
    }
    let moved: Vec<Sv> = tops
        .iter()
        .map(|(conv, top)| {
            let at = batch
                .iter()
                .filter(|m| m.conversation == *conv)
                .map(|m| m.at)
                .max()
                .unwrap_or_default();
            obj(vec![
                ("id", rid("conversation", (*conv).to_owned().into())),
                ("from", int(from.get(*conv).copied().unwrap_or_default())),
                ("to", int(*top)),
                ("at", Sv::Datetime(Datetime::from(micros(at)))),
            ])
        })
        .collect();
    [
        (
            "counters".to_owned(),
            Sv::Array(moved.into_iter().collect()),
        ),
        ("rows".to_owned(), Sv::Array(rows.into_iter().collect())),
        ("keys".to_owned(), Sv::Array(keys.into_iter().collect())),
    ]
    .into_iter()
    .collect()
}

/// An instant as the store keeps it: to the microsecond.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// The message as stored by the batch.
fn message(m: &NewMessage, seq: u64) -> Message {
    Message {
        id: format!("{}.{}", m.conversation, seq),
        conversation_id: m.conversation.clone(),
        seq,
        sender_id: m.sender.clone(),
        body: m.body.clone(),
        sent_at: micros(m.at),
        client_msg_id: m.client_msg_id.clone(),
        edited_at: None,
        deleted_at: None,
    }
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
        let got: Vec<_> = store
            .append_batch(&batch, &Counters::default())
            .await
            .iter()
            .map(seq)
            .collect();
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
            .append_batch(
                &[msg("a", "3", "third, resent"), msg("a", "4", "fourth")],
                &Counters::default(),
            )
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
                // Each its own writer, as another process is: its counters
                // go stale whenever another writes.
                let counters = Counters::default();
                let mut mine = Vec::new();
                for i in 0..10 {
                    let batch = [msg("a", &format!("{w}-{i}"), "hi")];
                    for a in store.append_batch(&batch, &counters).await {
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
