//! What reminders and notices say. Times are written in the recipient's
//! own zone ("Mon 22 Mar 2027, 16:00 GMT"), so a parent in London and a
//! tutor abroad each read their own clock; the lesson's zone decides only
//! when it happens.
//!
//! Every stored word that reaches a message (names, subject, level) passes
//! through [`one_line`] first: the store holds names written before entry
//! refused control characters, and a line break in a name must never become
//! a line break in a mail header, an SMS or a push.

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

/// Longest name, subject or level written into a message, in characters:
/// a subject line and an SMS stay readable whatever was stored.
const MAX_WORDS_CHARS: usize = 80;

/// One line of plain text from stored words: every control character
/// (CR, LF, NUL, tab …) and Unicode line or paragraph separator becomes a
/// space, bidirectional overrides are dropped (they could make a name read
/// backwards across the rest of the text), runs of spaces become one, the
/// ends are trimmed, and what runs past `max_chars` characters is cut and
/// marked with an ellipsis.
pub fn one_line(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars.saturating_mul(4)));
    let mut chars = 0;
    let mut pending_space = false;
    for c in s.chars() {
        if is_bidi_control(c) {
            continue;
        }
        if c.is_control() || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if chars + usize::from(pending_space) + 1 > max_chars {
            out.push('…');
            return out;
        }
        if std::mem::take(&mut pending_space) {
            out.push(' ');
            chars += 1;
        }
        out.push(c);
        chars += 1;
    }
    out
}

/// Embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A stored word as messages write it.
fn word(s: &str) -> String {
    one_line(s, MAX_WORDS_CHARS)
}

pub fn render(about: &About<'_>, reader: &Reader<'_>) -> Message {
    let o = about.lesson;
    let start = o.start;
    let at = when(start, reader.tz);
    let reader_name = word(reader.name);
    let (subject_name, level, tutor) = (word(&o.subject), word(&o.level), word(&o.tutor.name));
    let students: Vec<String> = o
        .students
        .iter()
        .filter(|s| reader.family_id.is_none_or(|f| s.family_id == f))
        .map(|s| word(&s.name))
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
        format!("{level} {subject_name} for {students} with {tutor}")
    } else {
        format!("{level} {subject_name} with {students}")
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
        Kind::NoShow => (
            format!("Not held: {lesson}"),
            format!(
                "{lesson} on {at} did not take place: the tutor did not start it. \
                 A makeup credit has been added for each child."
            ),
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
        // About a document, not a lesson: `render_dbs` writes these. A
        // lesson job never has this kind; should one, it still reads.
        Kind::DbsExpiry
        | Kind::HomeworkSet
        | Kind::HomeworkDue
        | Kind::HomeworkOverdue
        | Kind::HomeworkGraded
        | Kind::PaymentReceipt
        | Kind::PaymentAction
        | Kind::PaymentFailed
        | Kind::PayoutStatement
        | Kind::FamilyStatement => (lesson.clone(), format!("{lesson} on {at}.")),
    };
    let subject = format!("{headline} — {}", short_when(start, reader.tz));
    let text = format!("Hello {reader_name},\n\n{detail}\n\nCMS Education\n");
    let html = format!(
        "<!doctype html><html><body><p>Hello {},</p><p>{}</p><p>CMS Education</p></body></html>",
        escape(&reader_name),
        escape(&detail)
    );
    Message {
        // The words are clean already; the whole line is checked again so
        // a later change to the wording cannot let a control through.
        subject: one_line(&subject, usize::MAX),
        sms: one_line(&format!("CMS Education: {detail}"), usize::MAX),
        inapp: detail.clone(),
        text,
        html,
    }
}

/// A message about something other than a lesson (a document, homework):
/// one subject line and one paragraph, on every channel.
fn letter(reader_name: &str, subject: &str, detail: String) -> Message {
    Message {
        subject: one_line(subject, usize::MAX),
        sms: one_line(&format!("CMS Education: {detail}"), usize::MAX),
        text: format!("Hello {reader_name},\n\n{detail}\n\nCMS Education\n"),
        html: format!(
            "<!doctype html><html><body><p>Hello {},</p><p>{}</p><p>CMS Education</p></body></html>",
            escape(reader_name),
            escape(&detail)
        ),
        inapp: detail,
    }
}

/// A tutor's reminder that their DBS lapses at `lapses_at`.
pub fn render_dbs(lapses_at: DateTime<Utc>, reader: &Reader<'_>) -> Message {
    let reader_name = word(reader.name);
    // The certificate counts until the start of this day: it is the last
    // day it counts that the tutor needs, so the day before, in their zone.
    let last = (lapses_at - Duration::seconds(1))
        .with_timezone(&reader.tz)
        .format("%a %-d %b %Y")
        .to_string();
    let detail = format!(
        "Your enhanced DBS check counts until the end of {last}. Upload your renewed \
         certificate before then: from the next day you cannot take new bookings \
         until a new one is verified."
    );
    let subject = format!("Your DBS check lapses after {last}");
    letter(&reader_name, &subject, detail)
}

/// A homework notice to a parent about their child.
pub fn render_homework(
    kind: Kind,
    hw: &cms_store::homework::HomeworkRow,
    child: &str,
    handed: Option<&cms_store::homework::SubmissionRow>,
    reader: &Reader<'_>,
) -> Message {
    let reader_name = word(reader.name);
    let (child, title, tutor) = (word(child), word(&hw.title), word(&hw.tutor_name));
    let due = when(hw.due_at, reader.tz);
    let (subject, detail) = match kind {
        Kind::HomeworkDue => (
            format!("Homework due tomorrow: {title}"),
            format!(
                "{child}'s homework \"{title}\" from {tutor} is due {due} and has not been handed in yet."
            ),
        ),
        Kind::HomeworkOverdue => (
            format!("Homework overdue: {title}"),
            format!(
                "{child}'s homework \"{title}\" from {tutor} was due {due} and has not been handed in. It can still be handed in."
            ),
        ),
        Kind::HomeworkGraded => {
            let score = handed
                .and_then(|s| Some(format!(": {} out of {}", s.score?, s.max_score?)))
                .unwrap_or_default();
            (
                format!("Homework marked: {title}"),
                format!("{tutor} has marked {child}'s homework \"{title}\"{score}."),
            )
        }
        _ => (
            format!("New homework: {title}"),
            format!("{tutor} has set {child} homework: \"{title}\", due {due}."),
        ),
    };
    letter(&reader_name, &subject, detail)
}

/// Pence as pounds: `£47.50`.
pub fn pounds(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let p = pence.unsigned_abs();
    format!("{sign}£{}.{:02}", p / 100, p % 100)
}

/// A notice about a charge: its receipt, a request to confirm it (the
/// bank asked for authentication, or there is no card), or its failure.
pub fn render_payment(
    kind: Kind,
    charge: &cms_store::charges::ChargeRow,
    lesson: &Occurrence,
    app_url: Option<&str>,
    reader: &Reader<'_>,
) -> Message {
    let reader_name = word(reader.name);
    let what = format!(
        "{} {} with {} on {}",
        word(&lesson.level),
        word(&lesson.subject),
        word(&lesson.tutor.name),
        when(lesson.start, reader.tz)
    );
    let what = match charge.purpose {
        cms_domain::charge::ChargePurpose::Lesson => what,
        cms_domain::charge::ChargePurpose::LateCancellation => {
            format!("the late cancellation of {what}")
        }
    };
    let amount = pounds(charge.amount);
    let discount = match charge.discount {
        0 => String::new(),
        d => format!(" (after a sibling discount of {})", pounds(d)),
    };
    let (subject, detail) = match kind {
        Kind::PaymentAction => (
            format!("Please confirm your payment of {amount}"),
            match app_url {
                Some(root) => format!(
                    "Your bank asks you to confirm the payment of {amount} for {what}. Confirm it here: {root}/app/billing/confirm?lesson={}&purpose={} (or add a card under Billing).",
                    charge.lesson_id, charge.purpose
                ),
                None => format!(
                    "Your bank asks you to confirm the payment of {amount} for {what}. Open Billing in the CMS Education app to confirm it, or to add a card."
                ),
            },
        ),
        Kind::PaymentFailed => (
            format!("We could not take your payment of {amount}"),
            format!(
                "The payment of {amount} for {what} did not go through, and the lesson is unpaid. Please check your card under Billing in the app."
            ),
        ),
        _ => (
            format!("Receipt: {amount} paid"),
            format!("Thank you: we took {amount}{discount} for {what}."),
        ),
    };
    letter(&reader_name, &subject, detail)
}

/// A tutor's payout statement: the total, then each lesson with what the
/// family paid, the platform's fee and the tutor's share.
pub fn render_payout(
    payout: &cms_store::payouts::PayoutRow,
    lessons: &[cms_store::charges::Earning],
    reader: &Reader<'_>,
) -> Message {
    let reader_name = word(reader.name);
    let mut detail = format!(
        "We have paid you {} for your lessons in the week of {}: {} paid by families, {} platform fee.",
        pounds(payout.amount),
        payout.week,
        pounds(payout.gross),
        pounds(payout.fee)
    );
    for l in lessons {
        detail.push_str(&format!(
            "\n- {} {} {}: {} paid, {} fee, {} to you",
            when(l.lesson_start, reader.tz),
            word(&l.level),
            word(&l.subject),
            pounds(l.gross),
            pounds(l.fee),
            pounds(l.net)
        ));
    }
    letter(
        &reader_name,
        &format!("Your payout: {}", pounds(payout.amount)),
        detail,
    )
}

/// A family's month: each child's seat in each lesson with what it cost
/// and how it was paid, then the totals.
pub fn render_statement(statement: &crate::statements::Statement, reader: &Reader<'_>) -> Message {
    use cms_domain::charge::PaidWith;
    let reader_name = word(reader.name);
    let month = chrono::NaiveDate::parse_from_str(&format!("{}-01", statement.month), "%Y-%m-%d")
        .map_or_else(
            |_| statement.month.clone(),
            |d| d.format("%B %Y").to_string(),
        );
    let mut detail = format!(
        "Your statement for {month}: {} for lessons priced {}, after {} of sibling discounts; {} paid so far.",
        pounds(statement.total_charged),
        pounds(statement.total_price),
        pounds(statement.total_discount),
        pounds(statement.total_paid),
    );
    for l in &statement.lines {
        let paid = match l.paid_with {
            Some(PaidWith::Card) => format!("{} by card", pounds(l.charged)),
            Some(PaidWith::Credit) => "paid with a makeup credit".into(),
            Some(PaidWith::Package) => "paid from a package".into(),
            None => format!("{}, not charged", l.lesson_status),
        };
        detail.push_str(&format!(
            "\n- {} {}: {} {} with {}, {} — {}",
            when(l.start, reader.tz),
            word(&l.child),
            word(&l.level),
            word(&l.subject),
            word(&l.tutor),
            pounds(l.price),
            paid
        ));
    }
    letter(&reader_name, &format!("Your statement for {month}"), detail)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_leaves_no_line_break_or_control_character() {
        for (given, want) in [
            ("A\r\nB", "A B"),
            ("A\rB", "A B"),
            ("A\0B", "A B"),
            ("A\u{2028}B\u{2029}C\u{85}D", "A B C D"),
            ("  \tA \n\n B\t ", "A B"),
            ("O'Brien, \"Jo\"", "O'Brien, \"Jo\""),
            ("ab\u{202E}cd", "abcd"),
            ("", ""),
        ] {
            assert_eq!(one_line(given, 80), want, "{given:?}");
        }
        let long = "x".repeat(200);
        let cut = one_line(&long, 80);
        assert_eq!(cut.chars().count(), 81);
        assert!(cut.ends_with('…'));
        assert_eq!(one_line("é".repeat(5).as_str(), 3), "ééé…");
    }
}
