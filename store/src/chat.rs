//! Chat as the realtime layer needs it: who may hear a topic, messages,
//! read marks, edits. The server adapts these to the actors' `ChatStore`
//! port.

use chrono::{DateTime, Utc};
use cms_domain::Refusal;
use cms_protocol::chat::Message;
use serde::Deserialize;
use serde_json::json;

use super::{Store, StoreError, ts};

/// A message row as stored; `id` is derived.
#[derive(Deserialize)]
struct MessageRow {
    conversation_id: String,
    seq: u64,
    sender_id: String,
    body: String,
    client_msg_id: String,
    sent_at: DateTime<Utc>,
    #[serde(default)]
    edited_at: Option<DateTime<Utc>>,
    #[serde(default)]
    deleted_at: Option<DateTime<Utc>>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: format!("{}.{}", r.conversation_id, r.seq),
            conversation_id: r.conversation_id,
            seq: r.seq,
            sender_id: r.sender_id,
            body: r.body,
            sent_at: r.sent_at,
            client_msg_id: r.client_msg_id,
            edited_at: r.edited_at,
            deleted_at: r.deleted_at,
        }
    }
}

const MESSAGE_FIELDS: &str = "record::id(conversation) AS conversation_id, seq, \
     record::id(sender) AS sender_id, body, client_msg_id, sent_at, edited_at, deleted_at";

/// The outcome of appending a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now with the next seq.
    New(Message),
    /// The sender had already sent this client_msg_id: the original.
    Duplicate(Message),
}

/// Whose members a topic has: a family's parents, a tutor, the admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberGroup {
    Family,
    Tutor,
    Admins,
}

/// A conversation and everyone who may join it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationMembers {
    pub id: String,
    pub family_id: String,
    pub tutor_id: String,
    /// The family's parents and the tutor.
    pub member_ids: Vec<String>,
}

impl Store {
    async fn messages(
        &self,
        cond: &str,
        order: &str,
        vars: serde_json::Value,
    ) -> Result<Vec<Message>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_FIELDS} FROM message
             WHERE conversation = type::record('conversation', $conv) AND {cond}
             ORDER BY seq {order} LIMIT $limit"
        );
        let rows: Vec<MessageRow> = self.rows(&sql, vars, 0).await?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    /// The `limit` messages before `before`, oldest first.
    pub async fn messages_before_seq(
        &self,
        conv: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let before = before.min(i64::MAX as u64);
        let mut page = self
            .messages(
                "seq < $before",
                "DESC",
                json!({ "conv": conv, "before": before, "limit": limit }),
            )
            .await?;
        page.reverse();
        Ok(page)
    }

    pub(crate) async fn message_at(&self, conv: &str, seq: u64) -> Result<Message, StoreError> {
        let sql =
            format!("SELECT {MESSAGE_FIELDS} FROM ONLY type::record('message', [$conv, $seq])");
        let row: MessageRow = self
            .row(&sql, json!({ "conv": conv, "seq": seq }), 0)
            .await?;
        Ok(row.into())
    }
}

impl Store {
    pub async fn conversation_members(&self, id: &str) -> Result<ConversationMembers, StoreError> {
        let c = self.conversation_row(id).await?;
        let mut member_ids = self
            .group_members(MemberGroup::Family, &c.family_id)
            .await?;
        member_ids.push(c.tutor_id.clone());
        Ok(ConversationMembers {
            id: c.id,
            family_id: c.family_id,
            tutor_id: c.tutor_id,
            member_ids,
        })
    }

    /// User ids allowed on a family's, a tutor's or the admins' topic;
    /// `NotFound` when there is no such family or tutor.
    pub async fn group_members(
        &self,
        kind: MemberGroup,
        id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let (sql, idx) = match kind {
            MemberGroup::Family => (
                "IF record::exists(type::record('family', $id)) {
                     SELECT VALUE record::id(id) FROM user
                     WHERE family = type::record('family', $id) AND role = 'parent'
                 } ELSE { NONE }",
                0,
            ),
            MemberGroup::Tutor => (
                "SELECT VALUE record::id(id) FROM user
                 WHERE id = type::record('user', $id) AND role = 'tutor'",
                0,
            ),
            MemberGroup::Admins => (
                "SELECT VALUE record::id(id) FROM user WHERE role = 'admin'",
                0,
            ),
        };
        let v = self.value(sql, json!({ "id": id }), idx).await?;
        let members: Vec<String> = match v {
            serde_json::Value::Array(_) => serde_json::from_value(v)?,
            _ => Vec::new(),
        };
        if members.is_empty() {
            return Err(StoreError::NotFound);
        }
        Ok(members)
    }

    /// Highest seq stored in the conversation (0 when empty).
    pub async fn latest_seq(&self, conversation_id: &str) -> Result<u64, StoreError> {
        let v = self
            .value(
                "SELECT VALUE last_seq FROM ONLY type::record('conversation', $id)",
                json!({ "id": conversation_id }),
                0,
            )
            .await?;
        v.as_u64().ok_or(StoreError::NotFound)
    }

    /// Stores a message with the next seq, atomically, unless the sender
    /// has already sent `cmid` here: a batch of one (`chat_batch`).
    pub async fn append_message(
        &self,
        conv: &str,
        sender: &str,
        cmid: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<Appended, StoreError> {
        let m = super::chat_batch::NewMessage {
            conversation: conv.to_owned(),
            sender: sender.to_owned(),
            client_msg_id: cmid.to_owned(),
            body: body.to_owned(),
            at,
        };
        let counters = super::chat_batch::Counters::default();
        self.append_batch(std::slice::from_ref(&m), &counters)
            .await
            .pop()
            .unwrap_or(Err(StoreError::NotFound))
    }

    /// Messages with seq > `after`, oldest first, at most `limit`.
    pub async fn messages_after(
        &self,
        conv: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        self.messages(
            "seq > $after",
            "ASC",
            json!({ "conv": conv, "after": after, "limit": limit }),
        )
        .await
    }

    /// Moves the member's read mark forward (never back); returns the mark.
    pub async fn set_read_mark(
        &self,
        conv: &str,
        user: &str,
        seq: u64,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        // Never past the newest message, never backwards.
        let v = self
            .value(
                "LET $c = type::record('conversation', $conv);
                 LET $latest = (SELECT VALUE last_seq FROM ONLY $c);
                 UPSERT ONLY type::record('read_mark', [$conv, $user]) SET
                     conversation = $c, user = type::record('user', $user),
                     seq = math::max([seq ?? 0, math::min([$seq, $latest])]),
                     updated_at = <datetime>$at
                 RETURN VALUE seq;",
                json!({ "conv": conv, "user": user, "seq": seq.min(i64::MAX as u64), "at": ts(at) }),
                2,
            )
            .await?;
        v.as_u64()
            .ok_or_else(|| StoreError::Database("read mark not stored".into()))
    }

    /// Edits (`Some(body)`) or deletes (`None`) a message of `editor`'s,
    /// keeping the previous text in an audit record.
    pub async fn revise_message(
        &self,
        conv: &str,
        seq: u64,
        editor: &str,
        new_body: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Message, StoreError> {
        let current = self.message_at(conv, seq).await?;
        if current.sender_id != editor {
            return Err(StoreError::Refused(Refusal::NotAuthor));
        }
        if current.deleted_at.is_some() {
            return Err(StoreError::Refused(Refusal::MessageDeleted));
        }
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $m = type::record('message', [$conv, $seq]);
             CREATE message_revision CONTENT {{
                 message: $m, conversation: type::record('conversation', $conv), seq: $seq,
                 editor: type::record('user', $editor), action: $action,
                 previous_body: $m.body, at: <datetime>$at
             }} RETURN NONE;
             IF $action = 'edit' {{
                 UPDATE $m SET body = $body, edited_at = <datetime>$at RETURN NONE
             }} ELSE {{
                 UPDATE $m SET body = '', deleted_at = <datetime>$at RETURN NONE
             }};
             SELECT {MESSAGE_FIELDS} FROM ONLY $m;
             COMMIT TRANSACTION;"
        );
        let action = if new_body.is_some() { "edit" } else { "delete" };
        let vars = json!({ "conv": conv, "seq": seq, "editor": editor, "action": action, "body": new_body, "at": ts(at) });
        let row: MessageRow = self.row(&sql, vars, 4).await?;
        Ok(row.into())
    }
}
