//! Who may join which topic, for every kind of topic, in one place.
//!
//! Two steps, because some rules need only the identity and others need the
//! topic's member list, which only the topic's actor holds (cached from the
//! store): the socket asks [`join`] before it bothers the registry, and the
//! topic actor asks [`join_as_member`] once its members are loaded. Each
//! refusal keeps the reply clients have always had.

use cms_domain::lesson::LessonStatus;
use cms_protocol::reply::reason;
use cms_protocol::{Reply, Topic};
use serde_json::json;

use crate::identity::{Identity, Role};

/// Why a join (or a write) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `admin:monitor` by a non-admin.
    AdminsOnly,
    /// Someone else's `user:<id>` or `tutor:<id>`.
    NotYourTopic,
    /// A topic nobody joins (`phoenix` is for heartbeats only).
    NotServed,
    /// Not on the topic's member list (also for topics that do not exist:
    /// unknown and foreign look the same).
    NotMember,
    /// A write to a conversation by someone not on its member list.
    NotMemberToWrite,
}

impl Refusal {
    /// The error reply the client is sent.
    pub fn reply(self) -> Reply {
        match self {
            Self::AdminsOnly => Reply::error(reason::UNAUTHORIZED, "admins only"),
            Self::NotYourTopic => Reply::error(reason::UNAUTHORIZED, "not your topic"),
            Self::NotServed => {
                Reply::error(reason::UNMATCHED_TOPIC, "this topic is not served yet")
            }
            Self::NotMember => Reply::error(reason::UNAUTHORIZED, "not a member"),
            Self::NotMemberToWrite => Reply::error(reason::FORBIDDEN, "not a member"),
        }
    }
}

impl From<Refusal> for Reply {
    fn from(r: Refusal) -> Self {
        r.reply()
    }
}

/// The rules that need only the identity. `user:<id>` is then decided;
/// every other topic that passes is decided by its actor with
/// [`join_as_member`]. Exhaustive on purpose: a new kind of topic must
/// state its rule here.
pub fn join(who: &Identity, topic: &Topic) -> Result<(), Refusal> {
    let admin = who.role == Role::Admin;
    match topic {
        Topic::AdminMonitor if !admin => Err(Refusal::AdminsOnly),
        Topic::Phoenix => Err(Refusal::NotServed),
        Topic::User(id) if **id != *who.user_id => Err(Refusal::NotYourTopic),
        Topic::Tutor(id) if !admin && **id != *who.user_id => Err(Refusal::NotYourTopic),
        Topic::AdminMonitor
        | Topic::User(_)
        | Topic::Tutor(_)
        | Topic::Conversation(_)
        | Topic::Family(_)
        | Topic::Session(_) => Ok(()),
    }
}

/// `session:<id>`: the lesson's tutor, the parents of its students'
/// families and admins; anyone else is refused as a stranger, whatever
/// the lesson's status, so a refusal says nothing about the lesson. A
/// member joining a lesson that will not take place (cancelled, moved, a
/// tutor no-show) is told so, with where a moved lesson went.
pub fn join_lesson(
    who: &Identity,
    members: &[String],
    status: LessonStatus,
    rescheduled_to: Option<&str>,
) -> Result<(), Reply> {
    join_as_member(who, members)?;
    if status.takes_place() {
        return Ok(());
    }
    let mut response = json!({
        "reason": reason::LESSON_NOT_ACTIVE,
        "message": format!("this lesson is {status}"),
    });
    if let Some(to) = rescheduled_to {
        response["rescheduled_to"] = json!(to);
    }
    Err(Reply {
        status: cms_protocol::ReplyStatus::Error,
        response,
    })
}

/// Admins join any topic that exists; others only those listing them.
pub fn join_as_member(who: &Identity, members: &[String]) -> Result<(), Refusal> {
    if is_member(who, members) {
        Ok(())
    } else {
        Err(Refusal::NotMember)
    }
}

/// Writing to a conversation follows the same list as joining it.
pub fn write_as_member(who: &Identity, members: &[String]) -> Result<(), Refusal> {
    if is_member(who, members) {
        Ok(())
    } else {
        Err(Refusal::NotMemberToWrite)
    }
}

fn is_member(who: &Identity, members: &[String]) -> bool {
    who.role == Role::Admin || members.contains(&who.user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(user: &str, role: Role) -> Identity {
        Identity {
            user_id: user.into(),
            name: user.into(),
            role,
            session_id: "s".into(),
        }
    }

    fn topic(s: &str) -> Topic {
        Topic::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn static_rules_per_topic_kind() {
        let parent = who("p1", Role::Parent);
        let tutor = who("t1", Role::Tutor);
        let admin = who("a1", Role::Admin);
        let cases = [
            (&parent, "admin:monitor", Err(Refusal::AdminsOnly)),
            (&tutor, "admin:monitor", Err(Refusal::AdminsOnly)),
            (&admin, "admin:monitor", Ok(())),
            (&admin, "phoenix", Err(Refusal::NotServed)),
            (&admin, "session:s1", Ok(())),
            (&parent, "session:s1", Ok(())),
            (&parent, "user:p1", Ok(())),
            (&parent, "user:p2", Err(Refusal::NotYourTopic)),
            (&admin, "user:p1", Err(Refusal::NotYourTopic)),
            (&tutor, "tutor:t1", Ok(())),
            (&tutor, "tutor:t2", Err(Refusal::NotYourTopic)),
            (&parent, "tutor:t1", Err(Refusal::NotYourTopic)),
            (&admin, "tutor:t1", Ok(())),
            (&parent, "family:f1", Ok(())),
            (&parent, "conversation:c1", Ok(())),
        ];
        for (who, t, want) in cases {
            assert_eq!(join(who, &topic(t)), want, "{} on {t}", who.user_id);
        }
    }

    #[test]
    fn member_rules() {
        let members = vec!["p1".to_owned(), "t1".to_owned()];
        assert_eq!(join_as_member(&who("p1", Role::Parent), &members), Ok(()));
        assert_eq!(join_as_member(&who("a9", Role::Admin), &members), Ok(()));
        assert_eq!(
            join_as_member(&who("p2", Role::Parent), &members),
            Err(Refusal::NotMember)
        );
        assert_eq!(
            write_as_member(&who("p2", Role::Parent), &members),
            Err(Refusal::NotMemberToWrite)
        );
    }

    #[test]
    fn lesson_rooms_admit_members_of_lessons_that_take_place() {
        let members = vec!["p1".to_owned(), "t1".to_owned()];
        let parent = who("p1", Role::Parent);
        for s in [
            LessonStatus::Booked,
            LessonStatus::Live,
            LessonStatus::Completed,
        ] {
            assert_eq!(join_lesson(&parent, &members, s, None), Ok(()));
        }
        let stranger = join_lesson(
            &who("p2", Role::Parent),
            &members,
            LessonStatus::Cancelled,
            None,
        );
        let r = stranger.expect_err("a stranger");
        assert_eq!(
            r.response["reason"], "unauthorized",
            "not told it was cancelled"
        );
        let moved = join_lesson(&parent, &members, LessonStatus::Rescheduled, Some("l2"))
            .expect_err("moved");
        assert_eq!(moved.response["reason"], "lesson_not_active");
        assert_eq!(moved.response["rescheduled_to"], "l2");
        let admin = who("a1", Role::Admin);
        let gone = join_lesson(&admin, &members, LessonStatus::Cancelled, None).expect_err("gone");
        assert_eq!(gone.response["reason"], "lesson_not_active");
        assert!(gone.response.get("rescheduled_to").is_none());
    }

    #[test]
    fn replies_are_the_ones_clients_know() {
        let r = Refusal::NotMember.reply();
        assert_eq!(r.response["reason"], "unauthorized");
        assert_eq!(r.response["message"], "not a member");
        assert_eq!(
            Refusal::NotMemberToWrite.reply().response["reason"],
            "forbidden"
        );
        assert_eq!(
            Refusal::AdminsOnly.reply().response["message"],
            "admins only"
        );
        assert_eq!(
            Refusal::NotYourTopic.reply().response["message"],
            "not your topic"
        );
        assert_eq!(
            Refusal::NotServed.reply().response["reason"],
            "unmatched topic"
        );
    }
}
