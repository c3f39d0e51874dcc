//! The iCalendar (RFC 5545) feed a parent or tutor subscribes to from
//! Google, Apple or Outlook. Lessons are written in their own zone
//! (`DTSTART;TZID=Europe/London:20270322T160000`) with a VTIMEZONE for each
//! zone used, so calendar apps keep a series at its wall-clock time across
//! clock changes.
//!
//! Everything is written here: text values escaped per RFC 5545 (names
//! come from people and the store may hold control characters), lines
//! folded at 75 octets on UTF-8 boundaries, CRLF endings. VTIMEZONEs come
//! from the zone's actual transitions, which chrono-tz only exposes by
//! asking for offsets: we scan day by day and bisect to the second where
//! the offset changes.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, Tz};
use cms_protocol::calendar::Occurrence;

pub struct FeedEvent {
    /// The occurrence id; the UID is `<uid>@cms-education`.
    pub uid: String,
    pub summary: String,
    pub description: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The zone the lesson was booked in.
    pub tz: Tz,
    /// false for a cancelled or moved occurrence (STATUS:CANCELLED).
    pub confirmed: bool,
    /// Raised by every change, so apps take the newer copy.
    pub sequence: u32,
    pub updated: DateTime<Utc>,
}

impl FeedEvent {
    /// A lesson as an event.
    pub fn of(o: &Occurrence, updated: DateTime<Utc>) -> Self {
        let students: Vec<&str> = o.students.iter().map(|s| s.name.as_str()).collect();
        Self {
            uid: o.id.clone(),
            summary: format!("{} {} with {}", o.level, o.subject, o.tutor.name),
            description: format!(
                "{} {} lesson for {} with {} ({} min).",
                o.level,
                o.subject,
                students.join(", "),
                o.tutor.name,
                o.duration_min
            ),
            start: o.start,
            end: o.end,
            tz: o.timezone,
            // Open, live and completed lessons happen as booked; a tutor's
            // no-show shows as cancelled, like a cancellation.
            confirmed: o.status.takes_place(),
            sequence: o.version,
            updated,
        }
    }
}

/// A subscribed feed (METHOD:PUBLISH).
pub fn render(calendar_name: &str, events: &[FeedEvent]) -> String {
    render_method(calendar_name, "PUBLISH", events)
}

/// A calendar with the given iTIP method: `REQUEST` for an invitation sent
/// with a booking email, `CANCEL` for a cancellation notice (RFC 5546).
///
/// Written by hand rather than through a library so that every value is
/// escaped the same way (see [`text`]) and every line folded on a character
/// boundary (see [`push_line`]): names in it were typed by people, and one
/// with a line break must not add a property to anyone's calendar.
pub fn render_method(calendar_name: &str, method: &str, events: &[FeedEvent]) -> String {
    let mut out = String::new();
    push_line(&mut out, "BEGIN:VCALENDAR");
    push_line(&mut out, "VERSION:2.0");
    push_line(&mut out, "PRODID:-//CMS Education Platform//Lessons//EN");
    push_line(&mut out, "CALSCALE:GREGORIAN");
    // A method is a bare token; ours are constants, kept to letters anyway.
    let method: String = method.chars().filter(char::is_ascii_alphabetic).collect();
    push_line(&mut out, &format!("METHOD:{method}"));
    let name = text(calendar_name);
    push_line(&mut out, &format!("NAME:{name}"));
    push_line(&mut out, &format!("X-WR-CALNAME:{name}"));
    // Zone → the span of instants its events cover.
    let mut zones: BTreeMap<&'static str, (Tz, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for e in events {
        let span = zones.entry(e.tz.name()).or_insert((e.tz, e.start, e.end));
        span.1 = span.1.min(e.start);
        span.2 = span.2.max(e.end);
    }
    // Zones go before the events that name them.
    for (tz, from, to) in zones.values() {
        out.push_str(&vtimezone(
            *tz,
            *from - Duration::days(366),
            *to + Duration::days(366),
        ));
    }
    for e in events {
        let local = |t: DateTime<Utc>| {
            t.with_timezone(&e.tz)
                .naive_local()
                .format("%Y%m%dT%H%M%S")
                .to_string()
        };
        let utc = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
        let tzid = e.tz.name();
        push_line(&mut out, "BEGIN:VEVENT");
        push_line(&mut out, &format!("UID:{}@cms-education", text(&e.uid)));
        push_line(&mut out, &format!("DTSTAMP:{}", utc(e.updated)));
        push_line(&mut out, &format!("LAST-MODIFIED:{}", utc(e.updated)));
        push_line(&mut out, &format!("SEQUENCE:{}", e.sequence));
        push_line(&mut out, &format!("DTSTART;TZID={tzid}:{}", local(e.start)));
        push_line(&mut out, &format!("DTEND;TZID={tzid}:{}", local(e.end)));
        push_line(&mut out, &format!("SUMMARY:{}", text(&e.summary)));
        push_line(&mut out, &format!("DESCRIPTION:{}", text(&e.description)));
        let status = if e.confirmed {
            "CONFIRMED"
        } else {
            "CANCELLED"
        };
        push_line(&mut out, &format!("STATUS:{status}"));
        push_line(&mut out, "END:VEVENT");
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon and comma are
/// escaped; every line break (CRLF, a bare CR or LF, NEL, U+2028, U+2029)
/// is written `\n`; a tab becomes a space; every other control character is
/// removed. Nothing in the value can end its line.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                // CRLF is one break.
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Octets on one content line before it is folded (RFC 5545 §3.1).
const FOLD_OCTETS: usize = 75;

/// Appends one content line, CRLF-terminated, folded so no physical line
/// passes 75 octets: each cut falls on a UTF-8 character boundary, and each
/// continuation starts with a space (which counts towards its 75).
fn push_line(out: &mut String, line: &str) {
    let mut rest = line;
    let mut room = FOLD_OCTETS;
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        room = FOLD_OCTETS - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

/// ±HHMM.
fn offset_text(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let m = secs.abs() / 60;
    format!("{sign}{:02}{:02}", m / 60, m % 60)
}

fn utc_offset(tz: Tz, t: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The instants in `[from, to]` where the zone's offset changes.
fn transitions(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let next = (t + Duration::days(1)).min(to);
        if utc_offset(tz, t) != utc_offset(tz, next) {
            // Bisect to the first second with the new offset.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if utc_offset(tz, mid) == utc_offset(tz, lo) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(hi);
        }
        t = next;
    }
    out
}

fn vtimezone(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let mut s = format!("BEGIN:VTIMEZONE\r\nTZID:{}\r\n", tz.name());
    let changes = transitions(tz, from, to);
    let observance = |kind: &str, start: NaiveDateTime, before: i32, after: i32, name: String| {
        format!(
            "BEGIN:{kind}\r\nDTSTART:{}\r\nTZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\nTZNAME:{name}\r\nEND:{kind}\r\n",
            start.format("%Y%m%dT%H%M%S"),
            offset_text(before),
            offset_text(after),
        )
    };
    if changes.is_empty() {
        let off = utc_offset(tz, from);
        let name = tz.offset_from_utc_datetime(&from.naive_utc()).to_string();
        let epoch = DateTime::<Utc>::UNIX_EPOCH.naive_utc();
        s.push_str(&observance("STANDARD", epoch, off, off, name));
    }
    for at in changes {
        let before = utc_offset(tz, at - Duration::seconds(1));
        let after_offset = tz.offset_from_utc_datetime(&at.naive_utc());
        let after = after_offset.fix().local_minus_utc();
        let kind = if after_offset.dst_offset().is_zero() {
            "STANDARD"
        } else {
            "DAYLIGHT"
        };
        // An observance starts at its local time in the offset before it.
        let start = at.naive_utc() + Duration::seconds(i64::from(before));
        s.push_str(&observance(
            kind,
            start,
            before,
            after,
            after_offset.to_string(),
        ));
    }
    s.push_str("END:VTIMEZONE\r\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ical::parser::ical::component::IcalCalendar;

    fn event(uid: &str, start: &str, tz: Tz, confirmed: bool) -> FeedEvent {
        let start: DateTime<Utc> = start.parse().unwrap();
        FeedEvent {
            uid: uid.into(),
            summary: "GCSE Maths with Tom".into(),
            description: "Bring: ruler, compass; notes\nand calculator".into(),
            start,
            end: start + Duration::hours(1),
            tz,
            confirmed,
            sequence: 2,
            updated: start - Duration::days(3),
        }
    }

    fn parse(text: &str) -> IcalCalendar {
        let mut p = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
        p.next().unwrap().unwrap()
    }

    fn prop<'a>(props: &'a [ical::property::Property], name: &str) -> &'a ical::property::Property {
        props.iter().find(|p| p.name == name).unwrap()
    }

    #[test]
    fn london_lessons_carry_their_zone_and_its_transitions() {
        let text = render(
            "Pat's lessons",
            &[
                event("a", "2027-03-22T16:00:00Z", chrono_tz::Europe::London, true),
                event(
                    "b",
                    "2027-03-29T15:00:00Z",
                    chrono_tz::Europe::London,
                    false,
                ),
            ],
        );
        let cal = parse(&text);
        assert_eq!(cal.events.len(), 2);
        let a = &cal.events[0].properties;
        let start = prop(a, "DTSTART");
        assert_eq!(start.value.as_deref(), Some("20270322T160000"));
        let params = start.params.as_ref().unwrap();
        assert!(
            params
                .iter()
                .any(|(k, v)| k == "TZID" && v == &vec!["Europe/London".to_owned()])
        );
        assert_eq!(prop(a, "UID").value.as_deref(), Some("a@cms-education"));
        let b = &cal.events[1].properties;
        assert_eq!(prop(b, "DTSTART").value.as_deref(), Some("20270329T160000"));
        assert_eq!(prop(b, "STATUS").value.as_deref(), Some("CANCELLED"));
        assert_eq!(
            prop(a, "DESCRIPTION").value.as_deref(),
            Some("Bring: ruler\\, compass\\; notes\\nand calculator"),
            "escaped per RFC 5545"
        );

        assert_eq!(cal.timezones.len(), 1);
        let tz = &cal.timezones[0];
        assert_eq!(
            prop(&tz.properties, "TZID").value.as_deref(),
            Some("Europe/London")
        );
        let find = |kind: &str, start: &str| {
            tz.transitions.iter().any(|t| {
                let kind_ok = format!("{:?}", t.transition).to_uppercase().contains(kind);
                kind_ok && prop(&t.properties, "DTSTART").value.as_deref() == Some(start)
            })
        };
        assert!(find("DAYLIGHT", "20270328T010000"), "{text}");
        assert!(find("STANDARD", "20271031T020000"), "{text}");
        let summer = tz
            .transitions
            .iter()
            .find(|t| prop(&t.properties, "DTSTART").value.as_deref() == Some("20270328T010000"))
            .unwrap();
        assert_eq!(
            prop(&summer.properties, "TZOFFSETFROM").value.as_deref(),
            Some("+0000")
        );
        assert_eq!(
            prop(&summer.properties, "TZOFFSETTO").value.as_deref(),
            Some("+0100")
        );
        assert_eq!(
            prop(&summer.properties, "TZNAME").value.as_deref(),
            Some("BST")
        );
    }

    #[test]
    fn each_zone_gets_one_vtimezone_and_fixed_zones_a_single_standard() {
        let text = render(
            "x",
            &[
                event("a", "2027-05-01T10:00:00Z", chrono_tz::Europe::London, true),
                event(
                    "b",
                    "2027-05-01T14:00:00Z",
                    chrono_tz::America::New_York,
                    true,
                ),
                event("c", "2027-05-01T01:00:00Z", chrono_tz::Asia::Tokyo, true),
            ],
        );
        let cal = parse(&text);
        assert_eq!(cal.timezones.len(), 3);
        let tokyo = cal
            .timezones
            .iter()
            .find(|z| prop(&z.properties, "TZID").value.as_deref() == Some("Asia/Tokyo"))
            .unwrap();
        assert_eq!(tokyo.transitions.len(), 1);
        assert_eq!(
            prop(&tokyo.transitions[0].properties, "TZOFFSETTO")
                .value
                .as_deref(),
            Some("+0900")
        );
    }

    /// Unfolds content lines (RFC 5545 §3.1) after checking the physical
    /// ones: CRLF only, at most 75 octets, no control character.
    fn content_lines(text: &str) -> Vec<String> {
        assert!(text.ends_with("\r\n"));
        let mut out: Vec<String> = Vec::new();
        for line in text.trim_end_matches("\r\n").split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
            assert!(
                !line.chars().any(char::is_control),
                "control character in {line:?}"
            );
            match line.strip_prefix(' ') {
                Some(more) => out.last_mut().expect("a line to continue").push_str(more),
                None => out.push(line.to_owned()),
            }
        }
        out
    }

    #[test]
    fn hostile_names_are_escaped_and_add_no_property() {
        let long = format!("{}é", "Ä".repeat(199));
        for name in [
            "A\r\nNAME:Evil\r\nX-INJECTED:1",
            "Tom\rSUMMARY:Free",
            "A\0B",
            "A\u{2028}B",
            "\"Quoted\", with; commas\\",
            long.as_str(),
        ] {
            let mut e = event("a", "2027-05-01T10:00:00Z", chrono_tz::Europe::London, true);
            e.summary = format!("GCSE Maths with {name}");
            e.description = format!("Lesson for {name}.");
            let text = render(&format!("{name} — lessons"), &[e]);
            let lines = content_lines(&text);
            let names: Vec<&str> = lines
                .iter()
                .map(|l| l.split([':', ';']).next().unwrap_or_default())
                .collect();
            assert_eq!(names.iter().filter(|n| **n == "NAME").count(), 1, "{text}");
            assert_eq!(
                names.iter().filter(|n| **n == "SUMMARY").count(),
                1,
                "{text}"
            );
            assert!(!names.contains(&"X-INJECTED"), "{text}");
            let cal = parse(&text);
            assert_eq!(cal.events.len(), 1);
            let summary = prop(&cal.events[0].properties, "SUMMARY")
                .value
                .clone()
                .unwrap_or_default();
            // Unescaped, the summary says exactly what was stored, line
            // breaks as breaks and other controls gone.
            let unescaped = summary
                .replace("\\n", "\n")
                .replace("\\,", ",")
                .replace("\\;", ";")
                .replace("\\\\", "\\");
            let expected: String = format!("GCSE Maths with {name}")
                .replace("\r\n", "\n")
                .replace(['\r', '\u{2028}'], "\n")
                .chars()
                .filter(|c| *c == '\n' || !c.is_control())
                .collect();
            assert_eq!(unescaped, expected, "{text}");
        }
    }

    #[test]
    fn lines_are_crlf_and_folded() {
        let mut e = event("a", "2027-05-01T10:00:00Z", chrono_tz::Europe::London, true);
        e.description = "A long description. ".repeat(20);
        let text = render("x", &[e]);
        assert!(text.ends_with("\r\n"));
        for line in text.split("\r\n") {
            assert!(!line.contains('\n'), "bare LF in {line:?}");
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        assert_eq!(parse(&render("empty", &[])).events.len(), 0);
    }
}
