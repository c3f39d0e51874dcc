//! Phoenix Presence kept by a topic actor: one meta per joined socket,
//! keyed by user in the `presence_state` it answers and the
//! `presence_diff`s it broadcasts. Conversations use it; a live-lesson
//! actor will too.

use std::collections::HashMap;

use cms_protocol::presence::{Diff, Meta, State};

use crate::identity::Identity;
use crate::messages::SocketId;

/// Who is present on one topic, by socket.
#[derive(Default)]
pub struct Presence {
    /// (user id, meta) per socket.
    by_socket: HashMap<SocketId, (String, Meta)>,
    /// Numbers the metas' `phx_ref`, so a user's devices are told apart.
    next_ref: u64,
}

impl Presence {
    /// Records a socket's presence. Answers the diffs to send the other
    /// sockets, in order: a leave for the meta this socket had before (a
    /// rejoin replaces it), then the join.
    pub fn join(&mut self, socket_id: SocketId, who: &Identity, online_at: i64) -> Vec<Diff> {
        self.next_ref += 1;
        let meta = Meta {
            phx_ref: format!("{socket_id}-{}", self.next_ref),
            name: who.name.clone(),
            role: who.role.as_str().to_owned(),
            online_at,
        };
        let mut diffs = Vec::with_capacity(2);
        if let Some((old_user, old_meta)) = self.by_socket.remove(&socket_id) {
            diffs.push(Diff::leave(&old_user, old_meta));
        }
        diffs.push(Diff::join(&who.user_id, meta.clone()));
        self.by_socket
            .insert(socket_id, (who.user_id.clone(), meta));
        diffs
    }

    /// Forgets a socket; answers the leave diff if it was present.
    pub fn leave(&mut self, socket_id: SocketId) -> Option<Diff> {
        self.by_socket
            .remove(&socket_id)
            .map(|(user, meta)| Diff::leave(&user, meta))
    }

    /// Everyone present, for `presence_state`.
    pub fn state(&self) -> State {
        let mut state = State::new();
        for (user, meta) in self.by_socket.values() {
            state
                .entry(user.clone())
                .or_default()
                .metas
                .push(meta.clone());
        }
        state
    }

    pub fn clear(&mut self) {
        self.by_socket.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Role;

    fn who(user: &str) -> Identity {
        Identity {
            user_id: user.into(),
            name: format!("name-{user}"),
            role: Role::Parent,
            session_id: "s".into(),
        }
    }

    #[test]
    fn a_rejoin_replaces_the_sockets_meta() {
        let mut p = Presence::default();
        let first = p.join(1, &who("u"), 10);
        assert_eq!(first.len(), 1);
        assert!(first[0].joins.contains_key("u"));
        p.join(2, &who("u"), 11);
        let again = p.join(1, &who("u"), 12);
        assert_eq!(again.len(), 2, "a leave, then the join");
        assert_eq!(again[0].leaves["u"].metas[0].phx_ref, "1-1");
        assert_eq!(again[1].joins["u"].metas[0].phx_ref, "1-3");
        assert_eq!(p.state()["u"].metas.len(), 2, "one meta per socket");
        assert!(p.leave(1).is_some());
        assert!(p.leave(1).is_none());
        p.clear();
        assert!(p.state().is_empty());
    }
}
