//! The admins' live board on `admin:monitor` (docs/lessons.md, "Board"):
//! what the admins' [`GroupActor`](crate::group::GroupActor) answers a join
//! with, and how it completes each `board:lesson` before sending it on.
//!
//! A board row is two owners' data. The lesson (status, people, alerts) is
//! the store's, read by the server through the [`LessonPort`]; who is in
//! its room is the room's own presence, kept by its [`LessonActor`] and
//! nowhere else. So the server publishes rows with `in_room` empty and the
//! board asks the rooms, through the registry, just before the row leaves:
//! whatever the change, the row carries the room as it is at that moment.
//!
//! [`LessonActor`]: crate::lesson::LessonActor

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use cms_protocol::board::{BoardLesson, BoardLessonPush, BoardSnapshot, RoomPerson};

use crate::identity::Identity;
use crate::lesson_port::{LessonPort, LessonPortError};
use crate::messages::{Push, SocketId};
use crate::registry::Registry;

/// Asks the registry who is in each of these lessons' rooms; a lesson
/// without a running room has nobody in it and is left out.
#[derive(Message)]
#[rtype(result = "HashMap<String, Vec<RoomPerson>>")]
pub struct RoomsPresence(pub Vec<String>);

/// Asks one lesson room who is in it.
#[derive(Message)]
#[rtype(result = "Vec<RoomPerson>")]
pub struct RoomPresence;

/// Everyone behind the room's sockets, once per person, by name.
pub fn in_room<'a>(
    people: impl IntoIterator<Item = (&'a SocketId, &'a Identity)>,
) -> Vec<RoomPerson> {
    let mut found: Vec<RoomPerson> = people
        .into_iter()
        .map(|(_, who)| RoomPerson {
            user_id: who.user_id.clone(),
            name: who.name.clone(),
            role: who.role,
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.user_id.cmp(&b.user_id)));
    found.dedup_by(|a, b| a.user_id == b.user_id);
    found
}

/// The board at `at`: the stored rows with each room's presence.
pub async fn snapshot(
    port: Arc<dyn LessonPort>,
    registry: Addr<Registry>,
    at: DateTime<Utc>,
) -> Result<BoardSnapshot, LessonPortError> {
    let mut lessons = port.board(at).await?;
    fill(&registry, &mut lessons).await;
    Ok(BoardSnapshot { at, lessons })
}

/// Sets `in_room` of every row from the rooms. A registry that cannot
/// answer (shutting down) leaves the rows as they are: the board is a
/// view, and a rejoin reads it again.
async fn fill(registry: &Addr<Registry>, lessons: &mut [BoardLesson]) {
    if lessons.is_empty() {
        return;
    }
    let ids = lessons.iter().map(|l| l.id.clone()).collect();
    match registry.send(RoomsPresence(ids)).await {
        Ok(mut rooms) => {
            for l in lessons {
                l.in_room = rooms.remove(&l.id).unwrap_or_default();
            }
        }
        Err(e) => tracing::warn!(error = %e, "the board could not ask the rooms who is in them"),
    }
}

/// A `board:lesson` push with its row's `in_room` filled in; any other
/// payload (or one that does not decode) as it came.
pub async fn completed(registry: Addr<Registry>, push: Push) -> Push {
    let mut payload = match serde_json::from_str::<BoardLessonPush>(&push.payload) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "board:lesson did not decode; sent as it came");
            return push;
        }
    };
    fill(&registry, std::slice::from_mut(&mut payload.lesson)).await;
    Push::new(push.topic, push.event, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Role;

    fn who(user: &str, name: &str, role: Role) -> Identity {
        Identity {
            user_id: user.into(),
            name: name.into(),
            role,
            session_id: "s".into(),
        }
    }

    #[test]
    fn a_person_with_two_sockets_is_in_the_room_once() {
        let people: HashMap<SocketId, Identity> = [
            (1, who("t", "Tess", Role::Tutor)),
            (2, who("p", "Pat", Role::Parent)),
            (3, who("t", "Tess", Role::Tutor)),
        ]
        .into();
        let found = in_room(&people);
        let names: Vec<_> = found.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Pat", "Tess"]);
        assert_eq!(found[1].role, Role::Tutor);
    }
}
