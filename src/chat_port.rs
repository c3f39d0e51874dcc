//! The actors' [`ChatStore`] port, served by the SurrealDB store. The
//! actors crate knows nothing of the database and the store nothing of
//! actors; this adapter is where the two meet, translating errors once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cms_actors::store::{self as port, Appended, ChatStore, ConversationInfo, GroupKind};
use cms_domain::Refusal;
use cms_protocol::chat::Message;
use cms_store::chat::{self, MemberGroup};
use cms_store::{Store, StoreError};

use crate::metrics::timed;

/// The store as the actors see it; appends go through the group-commit
/// writer.
pub struct ActorStore {
    pub store: Store,
    pub writer: crate::chat_writer::ChatWriter,
}

fn to_port(e: StoreError) -> port::StoreError {
    match e {
        StoreError::NotFound => port::StoreError::NotFound,
        StoreError::Conflict(m) | StoreError::Duplicate(m) => port::StoreError::Conflict(m),
        StoreError::Refused(r @ (Refusal::NotAuthor | Refusal::MessageDeleted)) => {
            port::StoreError::Forbidden(r.to_string())
        }
        other => port::StoreError::Backend(other.to_string()),
    }
}

fn appended(a: chat::Appended) -> Appended {
    match a {
        chat::Appended::New(m) => Appended::New(m),
        chat::Appended::Duplicate(m) => Appended::Duplicate(m),
    }
}

#[async_trait]
impl ChatStore for ActorStore {
    async fn conversation(&self, id: &str) -> Result<ConversationInfo, port::StoreError> {
        let c = timed("conversation_members", self.store.conversation_members(id))
            .await
            .map_err(to_port)?;
        Ok(ConversationInfo {
            id: c.id,
            family_id: c.family_id,
            tutor_id: c.tutor_id,
            member_ids: c.member_ids,
        })
    }

    async fn group_members(
        &self,
        kind: GroupKind,
        id: &str,
    ) -> Result<Vec<String>, port::StoreError> {
        let group = match kind {
            GroupKind::Family => MemberGroup::Family,
            GroupKind::Tutor => MemberGroup::Tutor,
            GroupKind::Admins => MemberGroup::Admins,
        };
        timed("group_members", self.store.group_members(group, id))
            .await
            .map_err(to_port)
    }

    async fn latest_seq(&self, conversation_id: &str) -> Result<u64, port::StoreError> {
        timed("latest_seq", self.store.latest_seq(conversation_id))
            .await
            .map_err(to_port)
    }

    async fn append_message(
        &self,
        conversation_id: &str,
        sender_id: &str,
        client_msg_id: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<Appended, port::StoreError> {
        let message = cms_store::chat_batch::NewMessage {
            conversation: conversation_id.to_owned(),
            sender: sender_id.to_owned(),
            client_msg_id: client_msg_id.to_owned(),
            body: body.to_owned(),
            at,
        };
        self.writer
            .append(message)
            .await
            .map(appended)
            .map_err(to_port)
    }

    async fn messages_after(
        &self,
        conversation_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Message>, port::StoreError> {
        let read = self.store.messages_after(conversation_id, after_seq, limit);
        timed("chat_history", read).await.map_err(to_port)
    }

    async fn messages_before(
        &self,
        conversation_id: &str,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<Message>, port::StoreError> {
        let read = self
            .store
            .messages_before_seq(conversation_id, before_seq, limit);
        timed("chat_history", read).await.map_err(to_port)
    }

    async fn set_read_mark(
        &self,
        conversation_id: &str,
        user_id: &str,
        seq: u64,
        at: DateTime<Utc>,
    ) -> Result<u64, port::StoreError> {
        let write = self.store.set_read_mark(conversation_id, user_id, seq, at);
        timed("read_mark", write).await.map_err(to_port)
    }

    async fn revise_message(
        &self,
        conversation_id: &str,
        seq: u64,
        editor_id: &str,
        new_body: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Message, port::StoreError> {
        self.store
            .revise_message(conversation_id, seq, editor_id, new_body, at)
            .await
            .map_err(to_port)
    }
}
