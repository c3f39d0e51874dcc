//! The jobs a lesson change creates, planned here and written by the store
//! in the change's own transaction.

use chrono::{DateTime, Duration, Utc};

use cms_store::notify::NewJob;
use cms_store::{new_key, ts};

pub use cms_domain::notify::JobKind as Kind;

/// One reminder per offset for a lesson starting at `start`. Offsets whose
/// time has already passed when the lesson is booked get none: the booking
/// confirmation is the reminder then.
pub fn reminders(
    lesson: &str,
    start: DateTime<Utc>,
    offsets_min: &[u32],
    now: DateTime<Utc>,
) -> Vec<NewJob> {
    let mut offsets = offsets_min.to_vec();
    offsets.sort_unstable();
    offsets.dedup();
    offsets
        .into_iter()
        .filter_map(|m| {
            let due = start - Duration::minutes(i64::from(m));
            (due > now).then(|| NewJob {
                key: format!("{lesson}.r{m}"),
                kind: Kind::Reminder,
                lesson: lesson.to_owned(),
                lessons: vec![lesson.to_owned()],
                families: Vec::new(),
                offset_min: Some(m),
                due_at: ts(due),
            })
        })
        .collect()
}

/// A notice, due at once, about `lessons` (the first is named in the
/// text), to `families` and the tutor.
pub fn notice(kind: Kind, lessons: &[String], families: &[String], now: DateTime<Utc>) -> NewJob {
    let first = lessons.first().cloned().unwrap_or_default();
    NewJob {
        key: format!("{first}.{}.{}", kind.as_str(), new_key()),
        kind,
        lesson: first,
        lessons: lessons.to_vec(),
        families: families.to_vec(),
        offset_min: None,
        due_at: ts(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_only_for_times_still_ahead() {
        let start: DateTime<Utc> = "2027-03-10T16:00:00Z".parse().unwrap();
        let now: DateTime<Utc> = "2027-03-09T20:00:00Z".parse().unwrap();
        let jobs = reminders("l1", start, &[1440, 120, 120], now);
        assert_eq!(jobs.len(), 1, "the 24 h one fell due before booking");
        assert_eq!(jobs[0].key, "l1.r120");
        assert_eq!(jobs[0].due_at, "2027-03-10T14:00:00.000000Z");
    }
}
