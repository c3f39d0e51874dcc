//! `POST /api/v1/bookings`: one-off, recurring and group bookings.

use chrono::{DateTime, Duration, Utc};
use cms_actors::Role;
use cms_protocol::calendar::{Change, Occurrence};
use serde::{Deserialize, Serialize};

use super::Lessons;
use super::clash::{Clash, Planned, cells, clashes};
use super::error::LessonError;
use super::{PLAN_ATTEMPTS, push};
use crate::notify::{self, jobs::Kind};
use cms_domain::Caller;
use cms_domain::ids::{StudentId, TemplateId, UserId};
use cms_domain::lesson::LessonKind;
use cms_domain::scheduling::recurrence::{self, Freq};
use cms_domain::scheduling::time::{self, StartSpec};
use cms_domain::tutor::TutorStatus;
use cms_store::lessons::{NewLessons, NewOccurrence, NewSeries};
use cms_store::{StoreError, TutorProfile, new_key};

/// Students in one group lesson at most.
pub const MAX_GROUP: usize = 4;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recurrence {
    pub freq: Freq,
    /// How many lessons, the first included; `count` or `until` (or both:
    /// whichever ends the series first).
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "cms_domain::whole_number::option")]
    pub count: Option<u32>,
    /// Last date (YYYY-MM-DD, local, inclusive).
    #[serde(default)]
    pub until: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub tutor_id: UserId,
    /// One to four distinct students.
    // Documented as a set (`uniqueItems`); a repeated id is refused, not
    // silently merged, since it is a mistake in the caller's form.
    #[schema(value_type = std::collections::BTreeSet<StudentId>, min_items = 1, max_items = 4)]
    pub student_ids: Vec<StudentId>,
    #[schema(min_length = 1, pattern = r"\S")]
    pub subject: String,
    #[schema(min_length = 1, pattern = r"\S")]
    pub level: String,
    /// Wall clock in `timezone` (`2027-03-22T16:00`), or RFC 3339.
    pub start: String,
    /// IANA zone the lesson (and a series) keeps, e.g. Europe/London.
    #[schema(schema_with = cms_domain::openapi::zone_schema)]
    pub timezone: String,
    /// Defaults to the template's, else 60.
    #[schema(minimum = 15, maximum = 240, multiple_of = 15)]
    #[serde(default, deserialize_with = "cms_domain::whole_number::option")]
    pub duration_min: Option<u32>,
    #[serde(default)]
    pub template_id: Option<TemplateId>,
    #[serde(default)]
    pub recurrence: Option<Recurrence>,
    /// Book the occurrences that are free and report the others.
    #[serde(default)]
    pub skip_conflicts: bool,
    /// Pay with the family's makeup credits (one per student).
    #[serde(default)]
    pub use_credit: bool,
    /// Pay from the family's packages: one lesson of the booked length per
    /// student and occurrence, the soonest to expire first.
    #[serde(default)]
    pub use_package: bool,
    /// A group lesson even with one student (others may join it).
    #[serde(default)]
    pub group: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookingResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_id: Option<String>,
    pub occurrences: Vec<Occurrence>,
    /// Occurrences left out by `skip_conflicts`, with what was in the way.
    pub skipped: Vec<Clash>,
}

/// The lesson's length, checked against the grid.
pub fn check_duration(d: u32) -> Result<Duration, LessonError> {
    if !(15..=240).contains(&d) || !d.is_multiple_of(15) {
        return Err(LessonError::Invalid(
            "duration_min must be a multiple of 15 between 15 and 240".into(),
        ));
    }
    Ok(Duration::minutes(i64::from(d)))
}

/// A wall-clock start in a zone, checked: it exists, is on the grid and is
/// in the future.
pub fn planned_start(
    tz: chrono_tz::Tz,
    local: chrono::NaiveDateTime,
    duration: Duration,
    now: DateTime<Utc>,
) -> Result<Planned, LessonError> {
    let start = time::resolve(tz, local).map_err(|e| LessonError::Invalid(e.to_string()))?;
    if !time::on_grid(start) {
        return Err(LessonError::Invalid(time::TimeError::OffGrid.to_string()));
    }
    if start <= now {
        return Err(LessonError::Invalid(format!(
            "{} is in the past",
            time::fmt_local(local)
        )));
    }
    Ok(Planned {
        start,
        end: start + duration,
        local_start: time::fmt_local(local),
    })
}

/// Price per student in pence: the template's, else the hourly rate for
/// the lesson's length, rounded to the nearest penny.
pub fn price(rate_per_hour: i64, duration_min: u32) -> i64 {
    (rate_per_hour * i64::from(duration_min) + 30) / 60
}

pub async fn book(
    deps: &Lessons,
    user: &Caller,
    req: BookingRequest,
) -> Result<BookingResponse, LessonError> {
    let now = deps.clock.now();
    let cfg = &deps.scheduling;
    if user.role == Role::Tutor {
        return Err(LessonError::Forbidden(
            "parents book for their children; admins for anyone".into(),
        ));
    }
    // Counted before any other work, refused ones too: the cap is on
    // requests, so a script cannot probe the calendar without end. Admins
    // book on families' behalf and are not counted.
    if user.role == Role::Parent {
        let family = user.parent_family().ok_or_else(super::no_family)?;
        let cap = deps.bookings_per_family_per_day;
        if deps.store.count_booking_request(family, now).await? > cap {
            let midnight = (now + Duration::days(1))
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .map_or(now + Duration::days(1), |t| t.and_utc());
            return Err(LessonError::TooMany {
                message: format!("a family may make {cap} booking requests a day"),
                retry_after: (midnight - now).to_std().unwrap_or_default(),
            });
        }
    }
    // Students: 1 to 4, distinct, existing, the parent's own.
    let mut student_ids: Vec<String> = req.student_ids.iter().map(ToString::to_string).collect();
    student_ids.sort();
    student_ids.dedup();
    if student_ids.is_empty() || student_ids.len() != req.student_ids.len() {
        return Err(LessonError::Invalid(
            "student_ids must list one or more distinct students".into(),
        ));
    }
    if student_ids.len() > MAX_GROUP {
        return Err(LessonError::Conflict(format!(
            "a group lesson has at most {MAX_GROUP} students"
        )));
    }
    let students = deps.store.students_by_ids(&student_ids).await?;
    if students.len() != student_ids.len() {
        return Err(LessonError::NotFound("no such student".into()));
    }
    if user.role == Role::Parent {
        let family = user.parent_family().ok_or_else(super::no_family)?;
        if students.iter().any(|s| s.family_id != family) {
            // Another family's child is answered as no child at all, so
            // ids cannot be probed for existence.
            return Err(LessonError::NotFound("no such student".into()));
        }
    }
    let mut families: Vec<String> = students.iter().map(|s| s.family_id.clone()).collect();
    families.sort();
    families.dedup();

    let tz = time::zone(&req.timezone).map_err(|e| LessonError::Invalid(e.to_string()))?;
    let first_local =
        match time::parse_start(&req.start).map_err(|e| LessonError::Invalid(e.to_string()))? {
            StartSpec::Local(l) => l,
            StartSpec::Instant(t) => time::local(tz, t),
        };
    let subject = match deps.store.find_subject(&req.subject, &req.level).await {
        Err(StoreError::NotFound) => {
            return Err(LessonError::Invalid(format!(
                "{} {} is not in the subject catalogue",
                req.level, req.subject
            )));
        }
        other => other?,
    };
    let tutor = tutor_for_booking(deps, req.tutor_id.as_str()).await?;
    let teaching = tutor.teaching(&subject.id).ok_or_else(|| {
        LessonError::Invalid(format!(
            "this tutor does not teach {} {}",
            subject.level, subject.name
        ))
    })?;
    let template = match &req.template_id {
        Some(id) => Some(match deps.store.template(id.as_str()).await {
            Err(StoreError::NotFound) => {
                return Err(LessonError::Invalid("no such template".into()));
            }
            other => other?,
        }),
        None => None,
    };
    let duration_min = req
        .duration_min
        .or(template.as_ref().map(|t| t.duration_min))
        .unwrap_or(60);
    let duration = check_duration(duration_min)?;
    let group = req.group || student_ids.len() > 1;
    let price_pence = match &template {
        Some(t) => t.price_pence,
        None if group => price(teaching.group_rate_pence, duration_min),
        None => price(teaching.rate_pence, duration_min),
    };

    // Every occurrence, at its wall-clock time in the zone.
    let locals = match &req.recurrence {
        None => vec![first_local],
        Some(r) => {
            let until = r
                .until
                .as_deref()
                .map(time::parse_date)
                .transpose()
                .map_err(|e| LessonError::Invalid(e.to_string()))?;
            recurrence::expand(
                first_local,
                r.freq,
                r.count,
                until,
                cfg.max_series_occurrences,
            )
            .map_err(|e| LessonError::Invalid(e.to_string()))?
        }
    };
    let planned = locals
        .into_iter()
        .map(|l| planned_start(tz, l, duration, now))
        .collect::<Result<Vec<_>, _>>()?;
    if req.use_credit && planned.len() > 1 {
        return Err(LessonError::Invalid(
            "a makeup credit pays for one lesson: book the makeup on its own".into(),
        ));
    }
    if req.use_credit && req.use_package {
        return Err(LessonError::Invalid(
            "pay with a makeup credit or with a package, not both".into(),
        ));
    }
    let prepaid_family = if req.use_credit || req.use_package {
        match families.as_slice() {
            [one] => Some(one.clone()),
            _ => {
                return Err(LessonError::Invalid(
                    "makeup credits and packages pay for one family's children".into(),
                ));
            }
        }
    } else {
        None
    };
    let credit_family = prepaid_family.clone().filter(|_| req.use_credit);
    let package_family = prepaid_family.filter(|_| req.use_package);

    let buffer = Duration::minutes(i64::from(tutor.buffer_min));
    let availability = tutor
        .availability()
        .map_err(|e| LessonError::Invalid(e.to_string()))?;
    let series = req.recurrence.as_ref().map(|r| NewSeries {
        id: new_key(),
        freq: r.freq.as_str().to_owned(),
        local_start: time::fmt_local(first_local),
    });
    for _ in 0..PLAN_ATTEMPTS {
        // What is in the way now.
        let (Some(first), Some(last)) = (planned.first(), planned.last()) else {
            return Err(LessonError::Invalid("nothing to book".into()));
        };
        let near = deps
            .store
            .lessons_near(&tutor.id, &student_ids, first.start, last.end)
            .await?;
        let mut free = Vec::new();
        let mut skipped = Vec::new();
        for p in &planned {
            let mut c = clashes(p, &tutor.id, buffer, &student_ids, &near, None);
            // Parents book inside the tutor's availability; admins may
            // arrange lessons outside it.
            if user.role == Role::Parent && !availability.contains(p.start, p.end) {
                c.push(p.clash("outside_availability", None));
            }
            if c.is_empty() {
                free.push(p);
            } else {
                skipped.extend(c);
            }
        }
        if !skipped.is_empty() && (!req.skip_conflicts || free.is_empty()) {
            return Err(LessonError::Clashes {
                message: format!(
                    "{} of the requested occurrences cannot be booked",
                    planned.len() - free.len()
                ),
                clashes: skipped,
            });
        }
        let lessons: Vec<NewOccurrence> = free
            .iter()
            .map(|p| NewOccurrence {
                id: new_key(),
                starts_at: cms_store::ts(p.start),
                ends_at: cms_store::ts(p.end),
                local_start: p.local_start.clone(),
                cells: cells(p, &tutor.id, buffer, &student_ids),
            })
            .collect();
        let ids: Vec<String> = lessons.iter().map(|l| l.id.clone()).collect();
        let new = NewLessons {
            tutor: tutor.id.clone(),
            students: student_ids.clone(),
            families: families.clone(),
            kind: if group {
                LessonKind::Group
            } else {
                LessonKind::OneToOne
            },
            subject: subject.id.clone(),
            template: template.as_ref().map(|t| t.id.clone()),
            timezone: tz.name().to_owned(),
            duration_min,
            buffer_min: tutor.buffer_min,
            price_pence,
            booked_by: user.user_id.clone(),
            series: series.clone(),
            rescheduled_from: None,
            carry_credits: Vec::new(),
            credit_family: credit_family.clone(),
            carry_units: Vec::new(),
            package_family: package_family.clone(),
            lessons,
        };
        let credit_count = if req.use_credit { student_ids.len() } else { 0 };
        let mut jobs: Vec<_> = free
            .iter()
            .zip(&ids)
            .flat_map(|(p, id)| {
                notify::jobs::reminders(id, p.start, &deps.reminders.offsets_min, now)
            })
            .collect();
        jobs.push(notify::jobs::notice(Kind::Booked, &ids, &families, now));
        match deps
            .store
            .apply_lessons(&[], Some(&new), credit_count, &jobs, (&[], &[]), now)
            .await
        {
            // A lesson landed in the way since we looked: look again.
            Err(StoreError::Duplicate(_)) => continue,
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        deps.notifier.wake();
        let occurrences = deps.store.occurrences(&ids).await?;
        push::calendar_changed(deps, &occurrences, Change::Booked, &[]);
        return Ok(BookingResponse {
            series_id: series.map(|s| s.id),
            occurrences,
            skipped,
        });
    }
    Err(LessonError::Conflict(
        "the slot was taken while booking; try again".into(),
    ))
}

/// The tutor's profile, if they can be booked.
pub async fn tutor_for_booking(
    deps: &Lessons,
    tutor_id: &str,
) -> Result<TutorProfile, LessonError> {
    let tutor = match deps.store.tutor_profile(tutor_id).await {
        Err(StoreError::NotFound) => return Err(LessonError::NotFound("no such tutor".into())),
        other => other?,
    };
    if tutor.status != TutorStatus::Approved {
        return Err(LessonError::Conflict(format!(
            "this tutor is not taking bookings ({})",
            tutor.status
        )));
    }
    Ok(tutor)
}
