//! Conversations as the REST API sees them: creating threads, listing them
//! with unread counts, and the edit audit trail.

use chrono::{DateTime, Utc};
use cms_protocol::chat::Message;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Store, StoreError, new_key, ts};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationRow {
    pub id: String,
    pub family_id: String,
    pub tutor_id: String,
    #[serde(default)]
    pub student_id: Option<String>,
    pub last_seq: u64,
    pub created_at: String,
}

/// A conversation in the caller's list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationSummary {
    #[serde(flatten)]
    pub conversation: ConversationRow,
    /// Messages from others after the caller's read mark.
    pub unread: u64,
    #[schema(value_type = Option<Object>)]
    pub last_message: Option<Message>,
}

/// One edit or delete, with the text as it was before.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RevisionRow {
    pub seq: u64,
    pub editor_id: String,
    /// edit or delete.
    pub action: String,
    pub previous_body: String,
    pub at: String,
}

pub(super) const CONVERSATION_FIELDS: &str = "record::id(id) AS id, record::id(family) AS family_id, \
     record::id(tutor) AS tutor_id, \
     (IF student != NONE THEN record::id(student) ELSE NONE END) AS student_id, last_seq, created_at";

/// Whose conversations to list.
pub enum Scope<'a> {
    Family(&'a str),
    Tutor(&'a str),
    All,
}

/// A place in a conversation list, which runs newest activity (last message,
/// else creation) first, ties broken by id: the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationCursor {
    pub activity: DateTime<Utc>,
    pub id: String,
}

/// One page of a conversation list; `next` is where the following page
/// starts, `None` on the last.
#[derive(Debug, Clone)]
pub struct ConversationPage {
    pub items: Vec<ConversationSummary>,
    pub next: Option<ConversationCursor>,
}

#[derive(Deserialize)]
struct Listed {
    #[serde(flatten)]
    conversation: ConversationRow,
    activity: DateTime<Utc>,
}

impl Store {
    /// The thread between a family and a tutor (about one student, or
    /// general); created unless it exists. `true` when created now.
    pub async fn open_conversation(
        &self,
        family_id: &str,
        tutor_id: &str,
        student_id: Option<&str>,
        cap: u32,
        now: DateTime<Utc>,
    ) -> Result<(ConversationRow, bool), StoreError> {
        let find = format!(
            "SELECT {CONVERSATION_FIELDS} FROM conversation
             WHERE family = type::record('family', $family) AND tutor = type::record('user', $tutor)
               AND student = (IF $student != NONE THEN type::record('student', $student) ELSE NONE END)
             LIMIT 1"
        );
        let vars = json!({ "family": family_id, "tutor": tutor_id, "student": student_id });
        if let Some(c) = self.rows(&find, vars.clone(), 0).await?.into_iter().next() {
            return Ok((c, false));
        }
        let id = new_key();
        // The pair's counter row is written with the new thread, so two
        // opens racing past the count conflict and one retries and counts
        // the other. Existing stores start the counter from the count.
        let create = format!(
            "BEGIN TRANSACTION;
             LET $pair = type::record('conversation_pair', [$family, $tutor]);
             LET $open = count(SELECT id FROM conversation
                 WHERE family = type::record('family', $family) AND tutor = type::record('user', $tutor));
             IF $open >= $cap {{
                 THROW 'conflict: your family already has ' + <string>$cap + ' conversations with this tutor'
             }};
             UPSERT $pair SET n = $open + 1 RETURN NONE;
             CREATE type::record('conversation', $id) CONTENT {{
                 family: type::record('family', $family), tutor: type::record('user', $tutor),
                 student: IF $student != NONE THEN type::record('student', $student) ELSE NONE END,
                 last_seq: 0, created_at: <datetime>$now
             }} RETURN NONE;
             COMMIT TRANSACTION;
             SELECT {CONVERSATION_FIELDS} FROM ONLY type::record('conversation', $id);"
        );
        let mut vars = vars;
        vars["id"] = json!(id);
        vars["now"] = json!(ts(now));
        vars["cap"] = json!(cap);
        match self.row(&create, vars.clone(), 7).await {
            Ok(c) => Ok((c, true)),
            // Opened by someone else at the same moment: theirs stands.
            Err(StoreError::Duplicate(_)) => Ok((self.row(&find, vars, 0).await?, false)),
            Err(e) => Err(e),
        }
    }

    pub async fn conversation_row(&self, id: &str) -> Result<ConversationRow, StoreError> {
        let sql =
            format!("SELECT {CONVERSATION_FIELDS} FROM ONLY type::record('conversation', $id)");
        self.row(&sql, json!({ "id": id }), 0).await
    }

    /// Up to `limit` of the conversations in `scope`, newest activity
    /// first, starting after `after`.
    pub async fn list_conversations(
        &self,
        scope: Scope<'_>,
        user_id: &str,
        limit: usize,
        after: Option<&ConversationCursor>,
    ) -> Result<ConversationPage, StoreError> {
        let (mut filter, key) = match scope {
            Scope::Family(f) => (vec!["family = type::record('family', $key)"], f),
            Scope::Tutor(t) => (vec!["tutor = type::record('user', $key)"], t),
            Scope::All => (vec![], ""),
        };
        if after.is_some() {
            filter.push(
                "((last_message_at ?? created_at) < <datetime>$at
                  OR ((last_message_at ?? created_at) = <datetime>$at AND record::id(id) < $after))",
            );
        }
        let filter = if filter.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filter.join(" AND "))
        };
        let sql = format!(
            "SELECT {CONVERSATION_FIELDS}, (last_message_at ?? created_at) AS activity
             FROM conversation {filter}
             ORDER BY activity DESC, id DESC LIMIT $take"
        );
        let vars = json!({
            "key": key,
            "at": after.map(|c| ts(c.activity)),
            "after": after.map(|c| c.id.as_str()),
            // One more than asked tells whether another page follows.
            "take": limit + 1,
        });
        let mut listed: Vec<Listed> = self.rows(&sql, vars, 0).await?;
        let next = (listed.len() > limit).then(|| {
            listed.truncate(limit);
            listed.last().map(|l| ConversationCursor {
                activity: l.activity,
                id: l.conversation.id.clone(),
            })
        });
        let rows = listed.into_iter().map(|l| l.conversation);
        let mut out = Vec::with_capacity(limit);
        for c in rows {
            let unread: Option<u64> = self
                .rows(
                    "LET $conv = type::record('conversation', $id);
                     LET $mark = (SELECT VALUE seq FROM ONLY type::record('read_mark', [$id, $user])) ?? 0;
                     RETURN count(SELECT seq FROM message
                         WHERE conversation = $conv AND seq > $mark AND sender != type::record('user', $user));",
                    json!({ "id": c.id, "user": user_id }),
                    2,
                )
                .await?
                .into_iter()
                .next();
            let last_message = self.messages_before_seq(&c.id, u64::MAX, 1).await?.pop();
            out.push(ConversationSummary {
                conversation: c,
                unread: unread.unwrap_or(0),
                last_message,
            });
        }
        Ok(ConversationPage {
            items: out,
            next: next.flatten(),
        })
    }

    pub async fn revisions(&self, conversation_id: &str) -> Result<Vec<RevisionRow>, StoreError> {
        self.rows(
            "SELECT seq, record::id(editor) AS editor_id, action, previous_body, at
             FROM message_revision WHERE conversation = type::record('conversation', $id)
             ORDER BY seq, at",
            json!({ "id": conversation_id }),
            0,
        )
        .await
    }
}
