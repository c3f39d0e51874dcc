//! The file `cms-server seed` writes and `cms-loadtest` reads: accounts made
//! in bulk for load runs, each with a live token, grouped by conversation.
//!
//! It lives here, not in `cms-protocol`, because it is a load-test input,
//! not part of the wire protocol; the server writes the same JSON shape
//! with its own type, so neither crate depends on the other.

use serde::{Deserialize, Serialize};

/// A seeded account and the bearer token of its login session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeededUser {
    pub id: String,
    pub token: String,
}

/// A family–tutor conversation and everyone who may join it: the family's
/// parents, then the tutor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeededConversation {
    pub id: String,
    pub members: Vec<SeededUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seeded {
    /// An admin, for set-up the API reserves to admins (approving a tutor).
    pub admin: SeededUser,
    pub conversations: Vec<SeededConversation>,
}

impl Seeded {
    /// Every member of every conversation, in order.
    pub fn users(&self) -> impl Iterator<Item = (&SeededConversation, &SeededUser)> {
        self.conversations
            .iter()
            .flat_map(|c| c.members.iter().map(move |m| (c, m)))
    }
}
