//! What the actors need from the store. The server implements it on
//! SurrealDB; keeping it a trait keeps this crate free of the database and
//! lets actor tests run on a fake.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cms_protocol::chat::Message;

/// A conversation as its actor caches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationInfo {
    pub id: String,
    pub family_id: String,
    pub tutor_id: String,
    /// The family's parents and the tutor: who may join and write.
    pub member_ids: Vec<String>,
}

/// The outcome of appending a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now with the next seq.
    New(Message),
    /// The sender had already sent this client_msg_id: the original.
    Duplicate(Message),
}

/// Who may hear a family, tutor or admin topic. The topic itself is
/// `crate::group::topic_of(kind, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    Family,
    Tutor,
    /// `admin:<id>` topics (today `admin:monitor`): admins only.
    Admins,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("store error: {0}")]
    Backend(String),
}

#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    async fn conversation(&self, id: &str) -> Result<ConversationInfo, StoreError>;

    /// User ids allowed on `family:<id>` (its parents) or `tutor:<id>` (the
    /// tutor). `NotFound` when there is no such family or tutor.
    async fn group_members(&self, kind: GroupKind, id: &str) -> Result<Vec<String>, StoreError>;

    /// Highest seq stored in the conversation (0 when empty).
    async fn latest_seq(&self, conversation_id: &str) -> Result<u64, StoreError>;

    /// Stores a message with the next seq, atomically, unless the sender has
    /// already sent `client_msg_id` here.
    async fn append_message(
        &self,
        conversation_id: &str,
        sender_id: &str,
        client_msg_id: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<Appended, StoreError>;

    /// Messages with seq > `after_seq`, oldest first, at most `limit`.
    async fn messages_after(
        &self,
        conversation_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError>;

    /// The `limit` messages just before `before_seq`, oldest first.
    async fn messages_before(
        &self,
        conversation_id: &str,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError>;

    /// Moves the member's read mark forward (never back); returns the mark.
    async fn set_read_mark(
        &self,
        conversation_id: &str,
        user_id: &str,
        seq: u64,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Edits (`Some(body)`) or deletes (`None`) a message of `editor_id`'s,
    /// keeping the previous text in an audit record.
    async fn revise_message(
        &self,
        conversation_id: &str,
        seq: u64,
        editor_id: &str,
        new_body: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Message, StoreError>;
}
