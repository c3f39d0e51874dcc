//! What reminders and notices say. Times are written in the recipient's
//! own zone ("Mon 22 Mar 2027, 16:00 GMT"), so a parent in London and a
//! tutor abroad each read their own clock; the lesson's zone decides only
//! when it happens.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use cms_protocol::calendar::Occurrence;

use super::jobs::Kind;

/// What one recipient is told, per channel.
#[derive(Debug, Clone)]
pub struct Message {
    pub subject: String,
    /// The plain-text email body.
    pub text: String,
    pub html: String,
    /// The SMS body, kept short.
    pub sms: String,
    /// The in-app notification.
    pub inapp: String,
}

/// Who is reading.
pub struct Reader<'a> {
    pub name: &'a str,
    pub tz: Tz,
    /// A parent sees only their own children's names.
    pub family_id: Option<&'a str>,
}

pub struct About<'a> {
    pub kind: Kind,
    pub lesson: &'a Occurrence,
    /// How many lessons the notice covers (a series).
    pub count: usize,
    /// Where a moved lesson was.
    pub previous: Option<&'a Occurrence>,
    /// Free cancellation ends this long before the start.
    pub notice: Duration,
    /// The reminder's offset, for "tomorrow" / "in 2 hours".
    pub offset_min: Option<u32>,
    /// When it is sent: decides whether free cancellation has ended.
    pub now: DateTime<Utc>,
}

pub fn when(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

fn lead(offset_min: u32) -> String {
    match offset_min {
        1440 => "tomorrow".into(),
        m if m.is_multiple_of(1440) => format!("in {} days", m / 1440),
        60 => "in 1 hour".into(),
        m if m.is_multiple_of(60) => format!("in {} hours", m / 60),
        m => format!("in {m} minutes"),
    }
}

pub fn render(about: &About<'_>, reader: &Reader<'_>) -> Message {
    let o = about.lesson;
    let start = o.start;
    let at = when(start, reader.tz);
    let students: Vec<&str> = o
        .students
        .iter()
        .filter(|s| reader.family_id.is_none_or(|f| s.family_id == f))
        .map(|s| s.name.as_str())
        .collect();
    let students = if students.is_empty() {
        // A withdrawn seat: the lesson no longer lists the child.
        o.cancellations
            .last()
            .map(|_| "your child".to_owned())
            .unwrap_or_default()
    } else {
        students.join(", ")
    };
    let lesson = if reader.family_id.is_some() {
        format!(
            "{} {} for {students} with {}",
            o.level, o.subject, o.tutor.name
        )
    } else {
        format!("{} {} with {students}", o.level, o.subject)
    };
    let deadline = start - about.notice;
    let more = match about.count {
        0 | 1 => String::new(),
        n => format!(" (and {} more in the series)", n - 1),
    };
    let (headline, detail) = match about.kind {
        Kind::Reminder => {
            let lead = about.offset_min.map(lead).unwrap_or_default();
            let policy = if reader.family_id.is_some() {
                // The policy is "at least 24 h": the deadline itself is still free.
                if deadline >= about.now {
                    format!("Free cancellation until {}.", when(deadline, reader.tz))
                } else {
                    format!(
                        "Free cancellation ended {}; cancelling now is charged.",
                        when(deadline, reader.tz)
                    )
                }
            } else {
                String::new()
            };
            (
                format!("Reminder: {lesson}, {lead}"),
                format!("{lesson} starts {at}. {policy}").trim().to_owned(),
            )
        }
        Kind::Booked => (
            format!("Booked: {lesson}"),
            format!(
                "{lesson} is booked for {at}{more}. Free cancellation until {}.",
                when(deadline, reader.tz)
            ),
        ),
        Kind::Cancelled => (
            format!("Cancelled: {lesson}"),
            format!("{lesson} on {at}{more} is cancelled."),
        ),
        Kind::Rescheduled => {
            let was = about
                .previous
                .map(|p| format!(" (was {})", when(p.start, reader.tz)))
                .unwrap_or_default();
            (
                format!("Moved: {lesson}"),
                format!("{lesson} is moved to {at}{was}."),
            )
        }
    };
    let subject = format!("{headline} — {}", short_when(start, reader.tz));
    let text = format!("Hello {},\n\n{detail}\n\nCMS Education\n", reader.name);
    let html = format!(
        "<!doctype html><html><body><p>Hello {},</p><p>{}</p><p>CMS Education</p></body></html>",
        escape(reader.name),
        escape(&detail)
    );
    Message {
        subject,
        sms: format!("CMS Education: {detail}"),
        inapp: detail.clone(),
        text,
        html,
    }
}

fn short_when(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%a %-d %b, %H:%M").to_string()
}

/// Text for an HTML body.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
