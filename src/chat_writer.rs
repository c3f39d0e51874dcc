//! Group commit for chat (docs/architecture.md, "How a message flows"): one
//! task takes the appends of every conversation, writes whatever has
//! queued — up to [`MAX_BATCH`] — in one store transaction
//! (`cms_store::chat_batch`), and answers each sender after it commits.
//! The batch is as long as the queue: while up to [`IN_FLIGHT`] batches
//! commit, the next gathers, so a quiet server writes each message at once
//! and a busy one pays one parse, one plan and one synced commit for many.
//! Nothing waits on a timer.
//!
//! Each conversation actor sends one message at a time and broadcasts it
//! only once it is answered, so the broadcast order is the seq order and
//! nothing is heard before it is stored.

use cms_store::chat::Appended;
use cms_store::chat_batch::{Counters, NewMessage};
use cms_store::{Store, StoreError};
use futures_util::FutureExt;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

/// The most messages one transaction stores.
pub const MAX_BATCH: usize = 256;
/// Batches committing at once. Each conversation has one message in flight,
/// so batches in flight never share a conversation; several at once let
/// one batch's synced commit overlap the next one's work, as separate
/// transactions did before batching.
const IN_FLIGHT: usize = 4;
/// Appends waiting for the writer before senders wait to queue.
const QUEUE: usize = 8 * MAX_BATCH;

struct Pending {
    message: NewMessage,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

/// A handle on the writer; cheap to clone.
#[derive(Clone)]
pub struct ChatWriter {
    tx: mpsc::Sender<Pending>,
}

impl ChatWriter {
    /// Starts the writer on the current runtime.
    pub fn start(store: Store) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, rx));
        Self { tx }
    }

    /// Stores one message with the others queued now; answers once its
    /// batch has committed.
    pub async fn append(&self, message: NewMessage) -> Result<Appended, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Pending { message, reply })
            .await
            .map_err(|_| StoreError::Database("the chat writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Database("the chat writer dropped a message".into()))?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Pending>) {
    // The conversations' last seqs as this writer knows them; every write
    // checks them against the store.
    let counters = Arc::new(Counters::default());
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // A slot first: while every slot is committing, appends queue and
        // the next batch is the longer for it.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        metrics::gauge!("cms_chat_writer_queue").set(rx.len() as f64);
        let (store, counters) = (store.clone(), counters.clone());
        tokio::spawn(async move {
            commit(&store, &counters, batch).await;
            drop(slot);
        });
    }
}

/// Stores one batch and answers its senders.
async fn commit(store: &Store, counters: &Counters, batch: Vec<Pending>) {
    let (messages, replies): (Vec<NewMessage>, Vec<_>) =
        batch.into_iter().map(|p| (p.message, p.reply)).unzip();
    let started = std::time::Instant::now();
    // A panic in one batch answers its senders with an error and the
    // writer goes on: no conversation is left waiting for ever.
    let answers = std::panic::AssertUnwindSafe(store.append_batch(&messages, counters))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!(size = messages.len(), "a chat batch panicked");
            let mut failed = Vec::with_capacity(messages.len());
            for _ in &messages {
                failed.push(Err(StoreError::Database("the batch failed".into())));
            }
            failed
        });
    record(&answers, started.elapsed());
    for (reply, a) in replies.into_iter().zip(answers) {
        // The sender may have gone (its socket closed): the message is
        // stored all the same.
        let _ = reply.send(a);
    }
}

/// What one batch did, for `/metrics`.
fn record(answers: &[Result<Appended, StoreError>], took: std::time::Duration) {
    let stored = answers
        .iter()
        .filter(|a| matches!(a, Ok(Appended::New(_))))
        .count();
    let duplicates = answers
        .iter()
        .filter(|a| matches!(a, Ok(Appended::Duplicate(_))))
        .count();
    metrics::histogram!("cms_chat_batch_size").record(answers.len() as f64);
    metrics::histogram!("cms_chat_commit_seconds").record(took.as_secs_f64());
    metrics::histogram!("cms_store_query_seconds", "op" => "chat_batch").record(took.as_secs_f64());
    metrics::counter!("cms_messages_stored_total").increment(stored as u64);
    metrics::counter!("cms_messages_duplicate_total").increment(duplicates as u64);
}
