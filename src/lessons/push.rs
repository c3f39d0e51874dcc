//! `calendar:changed` to everyone whose calendar shows the lesson: each
//! family with a child in it, the tutor, and the admins. Sent after the
//! change commits; a client that was offline reads the calendar on
//! reconnect, so a push is a hint to refresh, never the only copy.

use std::sync::Arc;

use cms_actors::messages::Push;
use cms_actors::registry::Publish;
use cms_actors::store::GroupKind;
use cms_protocol::calendar::{CalendarChanged, Change, Occurrence};
use cms_protocol::event;

use crate::startup::AppState;

/// Pushes each occurrence; `also_families` are families that just left a
/// lesson (a withdrawn seat) and still need to hear of it.
pub fn calendar_changed(
    state: &AppState,
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
        let targets = families.into_iter().map(|f| (GroupKind::Family, f)).chain([
            (GroupKind::Tutor, o.tutor.id.as_str()),
            (GroupKind::Admins, "monitor"),
        ]);
        for (kind, id) in targets {
            let topic: Arc<str> = format!("{}:{id}", kind.prefix()).into();
            state.registry.do_send(Publish {
                kind,
                id: id.to_owned(),
                push: Push::new(topic, event::CALENDAR_CHANGED, &payload),
            });
        }
    }
}
