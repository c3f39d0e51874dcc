//! The admins' live board on `admin:monitor` (docs/lessons.md, "Board"):
//! what the admins' [`GroupActor`](crate::group::GroupActor) answers a join
//! with, and how it completes each `board:lesson` before sending it on.
//!
//! A board row is two owners' data. The lesson (status, people, alerts) is
//! the store's, read by the server through the [`LessonPort`]; who is in
//! its room is the room's own presence, kept by its [`LessonActor`]. A room
//! whose people change has the server push its row with them in it
//! (`change: presence`); the board remembers the last room it heard of per
//! lesson ([`RoomsSeen`]) and puts it into the lesson's other rows, which
//! the server publishes with `in_room` empty. The board never waits on a
//! room for a push: rooms are busy reading the store as people join, and a
//! burst of starts must not queue behind them. Only a join's snapshot asks
//! the rooms themselves, through the registry.
//!
//! [`LessonActor`]: crate::lesson::LessonActor

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use cms_protocol::board::{BoardChange, BoardLesson, BoardLessonPush, BoardSnapshot, RoomPerson};

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

/// Who is in each lesson's room, as the board last heard: the admins'
/// actor's own cache, fed by presence rows and join snapshots. A room
/// heard to be empty is forgotten, so it holds only the rooms in use.
#[derive(Debug, Default)]
pub struct RoomsSeen(HashMap<String, Vec<RoomPerson>>);

impl RoomsSeen {
    fn set(&mut self, lesson_id: &str, people: &[RoomPerson]) {
        if people.is_empty() {
            self.0.remove(lesson_id);
        } else {
            self.0.insert(lesson_id.to_owned(), people.to_vec());
        }
    }

    /// A snapshot's rows, read from the rooms themselves, are the rooms now.
    pub fn remember(&mut self, lessons: &[BoardLesson]) {
        for l in lessons {
            self.set(&l.id, &l.in_room);
        }
    }

    /// A `board:lesson` push as it goes out: a presence row is remembered
    /// as it came; any other row gets the lesson's room as last heard. Any
    /// other payload (or one that does not decode) goes as it came.
    pub fn complete(&mut self, push: Push) -> Push {
        let mut payload = match serde_json::from_str::<BoardLessonPush>(&push.payload) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "board:lesson did not decode; sent as it came");
                return push;
            }
        };
        if payload.change == BoardChange::Presence {
            self.set(&payload.lesson.id, &payload.lesson.in_room);
            return push;
        }
        match self.0.get(&payload.lesson.id) {
            Some(people) => payload.lesson.in_room = people.clone(),
            // Nobody heard of in the room: the row as published says so.
            None => return push,
        }
        Push::new(push.topic, push.event, &payload)
    }
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

    fn row(id: &str, in_room: Vec<RoomPerson>) -> BoardLesson {
        BoardLesson {
            id: id.into(),
            status: cms_domain::lesson::LessonStatus::Open,
            start: "2027-03-10T16:00:00Z".parse().unwrap(),
            end: "2027-03-10T17:00:00Z".parse().unwrap(),
            subject: "Maths".into(),
            level: "GCSE".into(),
            tutor: cms_protocol::calendar::Person {
                id: "t".into(),
                name: "Tess".into(),
            },
            students: Vec::new(),
            in_room,
            minutes_late: None,
            alerts: Vec::new(),
            started_at: None,
            ended_at: None,
            version: 1,
            tutor_without_dbs: false,
        }
    }

    fn push(lesson: BoardLesson, change: BoardChange) -> Push {
        Push::new(
            cms_protocol::Topic::AdminMonitor,
            cms_protocol::event::BOARD_LESSON,
            &BoardLessonPush { lesson, change },
        )
    }

    fn people_of(p: &Push) -> Vec<String> {
        let p: BoardLessonPush = serde_json::from_str(&p.payload).unwrap();
        p.lesson.in_room.into_iter().map(|r| r.user_id).collect()
    }

    fn person(user: &str) -> RoomPerson {
        RoomPerson {
            user_id: user.into(),
            name: user.into(),
            role: Role::Parent,
        }
    }

    /// A start row, published without the room, goes out with the people
    /// the room last said were in it; once they have left, with nobody.
    #[test]
    fn rows_carry_the_room_last_heard_of() {
        let mut seen = RoomsSeen::default();
        let out = seen.complete(push(
            row("l1", vec![person("t"), person("p")]),
            BoardChange::Presence,
        ));
        assert_eq!(
            people_of(&out),
            ["t", "p"],
            "a presence row goes as it came"
        );
        let started = seen.complete(push(row("l1", Vec::new()), BoardChange::Started));
        assert_eq!(people_of(&started), ["t", "p"]);
        let other = seen.complete(push(row("l2", Vec::new()), BoardChange::Started));
        assert!(
            people_of(&other).is_empty(),
            "another lesson's room is its own"
        );

        seen.complete(push(row("l1", Vec::new()), BoardChange::Presence));
        let ended = seen.complete(push(row("l1", Vec::new()), BoardChange::Ended));
        assert!(people_of(&ended).is_empty());
        assert!(seen.0.is_empty(), "an empty room is forgotten");
    }

    /// A join's snapshot, read from the rooms, replaces what was heard.
    #[test]
    fn a_snapshot_is_the_rooms_now() {
        let mut seen = RoomsSeen::default();
        seen.complete(push(row("l1", vec![person("t")]), BoardChange::Presence));
        seen.remember(&[row("l1", Vec::new()), row("l2", vec![person("p")])]);
        let l1 = seen.complete(push(row("l1", Vec::new()), BoardChange::Late));
        let l2 = seen.complete(push(row("l2", Vec::new()), BoardChange::Late));
        assert!(people_of(&l1).is_empty());
        assert_eq!(people_of(&l2), ["p"]);
    }
}
