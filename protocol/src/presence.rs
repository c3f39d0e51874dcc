//! Phoenix Presence payloads, in the shape phoenix.js's `Presence` class reads:
//! `presence_state` is `{key: {metas: [meta…]}}` and `presence_diff` is
//! `{joins: {…}, leaves: {…}}` of the same shape. A user is one key; each of
//! their sockets is one meta, told apart by `phx_ref`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One socket's presence in a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Unique per join; how clients tell a user's devices apart.
    pub phx_ref: String,
    pub name: String,
    pub role: String,
    /// Unix seconds when this socket joined.
    pub online_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub metas: Vec<Meta>,
}

/// `presence_state`: everyone present, keyed by user id.
pub type State = BTreeMap<String, Entry>;

/// `presence_diff`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub joins: State,
    pub leaves: State,
}

impl Diff {
    pub fn join(user_id: &str, meta: Meta) -> Self {
        let mut d = Self::default();
        d.joins
            .insert(user_id.to_owned(), Entry { metas: vec![meta] });
        d
    }

    pub fn leave(user_id: &str, meta: Meta) -> Self {
        let mut d = Self::default();
        d.leaves
            .insert(user_id.to_owned(), Entry { metas: vec![meta] });
        d
    }
}
