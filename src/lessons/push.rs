//! `calendar:changed` to everyone whose calendar shows the lesson: each
//! family with a child in it, the tutor, and the admins. Sent after the
//! change commits; a client that was offline reads the calendar on
//! reconnect, so a push is a hint to refresh, never the only copy.

use chrono::{DateTime, Utc};
use cms_actors::Broker;
use cms_actors::messages::Push;
use cms_protocol::calendar::{CalendarChanged, Change, Occurrence};
use cms_protocol::lesson::LessonStatusPush;
use cms_protocol::{Topic, event};

use super::Lessons;

/// Pushes each occurrence; `also_families` are families that just left a
/// lesson (a withdrawn seat) and still need to hear of it.
pub fn calendar_changed(
    deps: &Lessons,
    occurrences: &[Occurrence],
    change: Change,
    also_families: &[String],
) {
    calendar_changed_via(deps.broker.as_ref(), occurrences, change, also_families);
    super::board::calendar_changed(deps, occurrences, change);
}

/// [`calendar_changed`] through any publisher: the lesson timers hold a
/// broker but not the request-side [`Lessons`].
pub fn calendar_changed_via(
    broker: &dyn Broker,
    occurrences: &[Occurrence],
    change: Change,
    also_families: &[String],
) {
    for o in occurrences {
        let payload = CalendarChanged {
            occurrence: o.clone(),
            change,
        };
        let mut families: Vec<&str> = o
            .students
            .iter()
            .map(|s| s.family_id.as_str())
            .chain(also_families.iter().map(String::as_str))
            .collect();
        families.sort_unstable();
        families.dedup();
        let topics = families
            .into_iter()
            .map(|f| Topic::Family(f.into()))
            .chain([
                Topic::Tutor(o.tutor.id.as_str().into()),
                Topic::AdminMonitor,
            ]);
        for topic in topics {
            broker.publish(Push::new(topic, event::CALENDAR_CHANGED, &payload));
        }
    }
}

/// `lesson:status` to the lesson's room (`session:<id>`) after a start or
/// an end commits, whoever made it (REST, a socket, later a timer): the
/// room's actor forwards it and hands out video when the lesson goes live.
/// Takes the publisher alone, so a timer holding only a broker can call it.
pub fn lesson_status(
    broker: &dyn cms_actors::Broker,
    o: &Occurrence,
    by: Option<&str>,
    at: DateTime<Utc>,
) {
    let payload = LessonStatusPush {
        status: o.status,
        at,
        by: by.map(str::to_owned),
    };
    let topic = Topic::Session(o.id.as_str().into());
    broker.publish(Push::new(topic, event::LESSON_STATUS, &payload));
}
