//! Which existing lessons a planned occurrence would overlap, to name them
//! in a 409. The store's held cells are what actually refuse the booking.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use cms_store::lessons::{Cell, LessonState};

/// One reason a requested occurrence cannot be booked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Clash {
    /// The requested start (UTC) and its wall-clock time.
    pub start: String,
    pub local_start: String,
    /// tutor_busy, student_busy or outside_availability.
    pub reason: &'static str,
    /// The lesson in the way, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrence_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrence_start: Option<String>,
}

/// A time a new lesson would hold.
#[derive(Debug, Clone)]
pub struct Planned {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub local_start: String,
}

impl Planned {
    pub fn clash(&self, reason: &'static str, with: Option<&LessonState>) -> Clash {
        Clash {
            start: cms_domain::scheduling::time::iso(self.start),
            local_start: self.local_start.clone(),
            reason,
            occurrence_id: with.map(|l| l.id.clone()),
            occurrence_start: with.map(|l| cms_domain::scheduling::time::iso(l.starts_at)),
        }
    }
}

/// Clashes of `p` (for `tutor` with `buffer`, and `students`) with the
/// existing lessons, leaving out `except` (a lesson being moved).
pub fn clashes(
    p: &Planned,
    tutor: &str,
    buffer: Duration,
    students: &[String],
    existing: &[LessonState],
    except: Option<&str>,
) -> Vec<Clash> {
    let mut out = Vec::new();
    for l in existing {
        // An open or live lesson holds its time as a booked one does.
        if Some(l.id.as_str()) == except || !l.status.holds_time() {
            continue;
        }
        let held_until = l.ends_at + Duration::minutes(l.buffer_min);
        if l.tutor_id == tutor && p.start < held_until && p.end + buffer > l.starts_at {
            out.push(p.clash("tutor_busy", Some(l)));
        } else if l.seats.iter().any(|s| students.contains(&s.id))
            && p.start < l.ends_at
            && p.end > l.starts_at
        {
            out.push(p.clash("student_busy", Some(l)));
        }
    }
    out
}

/// The cells a lesson holds: the tutor until the end of the buffer, each
/// student for the lesson itself.
pub fn cells(p: &Planned, tutor: &str, buffer: Duration, students: &[String]) -> Vec<Cell> {
    use cms_domain::lesson::CellOwner;
    use cms_domain::scheduling::time;
    let mut out: Vec<Cell> = time::cells(p.start, p.end + buffer)
        .map(|c| (CellOwner::Tutor(tutor.to_owned()), c))
        .collect();
    for s in students {
        out.extend(time::cells(p.start, p.end).map(|c| (CellOwner::Student(s.clone()), c)));
    }
    out
}
