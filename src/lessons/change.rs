//! Changing booked lessons: cancel (one occurrence or the rest of a
//! series), reschedule (cancel + book, both or neither), add students to a
//! group lesson.

use chrono::Duration;
use cms_actors::Role;
use cms_domain::Refusal;
use cms_domain::ids::StudentId;
use cms_domain::lesson::{CellOwner, LessonKind, LessonStatus};
use cms_protocol::calendar::{Change, Occurrence};
use serde::{Deserialize, Serialize};

use crate::billing::charge;
use cms_domain::charge::ChargePurpose;
use cms_store::charges::NewCharge;
use cms_store::ledger::KeyedEntry;

use super::Lessons;
use super::book::{MAX_GROUP, check_duration, planned_start, tutor_for_booking};
use super::clash::{Planned, cells, clashes};
use super::error::LessonError;
use super::{PLAN_ATTEMPTS, may_see, not_found, push};
use crate::notify::{self, jobs::Kind};
use cms_domain::Caller;
use cms_domain::scheduling::policy::Makeup;
use cms_domain::scheduling::time::{self, StartSpec};
use cms_store::lessons::{
    LessonChange, LessonState, NewCancellation, NewCredit, NewLessons, NewOccurrence,
};
use cms_store::{StoreError, new_key, ts};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// This occurrence only.
    #[default]
    Occurrence,
    /// This occurrence and every later one of its series.
    Following,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// 1 to 1000 characters.
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub reason: String,
    #[serde(default)]
    pub scope: Scope,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CancelResponse {
    pub occurrences: Vec<Occurrence>,
    /// Makeup credits issued to families.
    pub credits_issued: usize,
    /// Whether any of it is a late, chargeable cancellation.
    pub chargeable: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    pub start: String,
    /// Defaults to the lesson's zone.
    #[serde(default)]
    #[schema(schema_with = cms_domain::openapi::optional_zone_schema)]
    pub timezone: Option<String>,
    /// Defaults to the lesson's.
    #[schema(minimum = 15, maximum = 240, multiple_of = 15)]
    #[serde(default, deserialize_with = "cms_domain::whole_number::option")]
    pub duration_min: Option<u32>,
    /// 1 to 1000 characters.
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RescheduleResponse {
    /// The original, now `rescheduled`.
    pub previous: Occurrence,
    pub occurrence: Occurrence,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddStudentsRequest {
    /// One to four distinct students.
    #[schema(value_type = std::collections::BTreeSet<StudentId>, min_items = 1, max_items = 4)]
    pub student_ids: Vec<StudentId>,
}

fn check_reason(reason: &str) -> Result<(), LessonError> {
    if reason.trim().is_empty() || reason.chars().count() > 1000 {
        return Err(LessonError::Invalid(
            "reason must be 1 to 1000 characters".into(),
        ));
    }
    Ok(())
}

/// A lesson the caller may change: visible to them, booked or with its room
/// open (`LessonStatus::changeable`), not started: once live or over it
/// can no longer be cancelled or moved.
async fn changeable(deps: &Lessons, user: &Caller, id: &str) -> Result<LessonState, LessonError> {
    let l = match deps.store.lesson_state(id).await {
        Err(StoreError::NotFound) => return Err(not_found()),
        other => other?,
    };
    if !may_see(user, &l) {
        return Err(not_found());
    }
    if !l.status.changeable() {
        return Err(LessonError::Conflict(format!(
            "this lesson is already {}",
            l.status
        )));
    }
    if l.starts_at <= deps.clock.now() {
        return Err(LessonError::Conflict(
            "this lesson has already started".into(),
        ));
    }
    Ok(l)
}

pub async fn cancel(
    deps: &Lessons,
    user: &Caller,
    id: &str,
    req: &CancelRequest,
) -> Result<CancelResponse, LessonError> {
    check_reason(&req.reason)?;
    let who = user.role;
    let policy = deps.scheduling.policy();
    for _ in 0..PLAN_ATTEMPTS {
        let now = deps.clock.now();
        let first = changeable(deps, user, id).await?;
        let lessons = match (req.scope, &first.series_id) {
            (Scope::Occurrence, _) => vec![first.clone()],
            (Scope::Following, Some(series)) => {
                deps.store.series_from(series, first.starts_at).await?
            }
            (Scope::Following, None) => {
                return Err(LessonError::Invalid(
                    "this lesson is not part of a series".into(),
                ));
            }
        };
        let mut changes = Vec::new();
        // Seats cancelled late are owed, when billing is on.
        let mut owed: (Vec<NewCharge>, Vec<KeyedEntry>) = (Vec::new(), Vec::new());
        let mut credits_issued = 0;
        let mut chargeable = false;
        let mut whole = true;
        // Families whose children leave: the cancellation notice is theirs.
        let mut told: Vec<String> = Vec::new();
        for l in &lessons {
            if !may_see(user, l) {
                continue;
            }
            // A parent cancels their own children's seats; the lesson goes
            // only when nobody else is left in it.
            let leaving: Vec<_> = l
                .seats
                .iter()
                .filter(|s| {
                    who != Role::Parent || user.family_id.as_deref() == Some(s.family_id.as_str())
                })
                .cloned()
                .collect();
            told.extend(leaving.iter().map(|s| s.family_id.clone()));
            let outcome = policy.outcome(who, l.starts_at, now);
            let mut c = LessonChange::of(l);
            if leaving.len() == l.seats.len() {
                c.status = LessonStatus::Cancelled;
                c.free_all = true;
            } else {
                whole = false;
                c.students.retain(|s| !leaving.iter().any(|x| &x.id == s));
                c.families = {
                    let mut f: Vec<String> = l
                        .seats
                        .iter()
                        .filter(|s| c.students.contains(&s.id))
                        .map(|s| s.family_id.clone())
                        .collect();
                    f.sort();
                    f.dedup();
                    f
                };
                c.free_owners = leaving
                    .iter()
                    .map(|s| CellOwner::Student(s.id.clone()))
                    .collect();
            }
            c.cancellation = Some(NewCancellation {
                students: leaving.iter().map(|s| s.id.clone()).collect(),
                by: user.user_id.clone(),
                role: who,
                reason: req.reason.trim().into(),
                notice_secs: (l.starts_at - now).num_seconds(),
                chargeable: outcome.chargeable,
            });
            let expires = ts(now + policy.credit_valid);
            c.credits = leaving
                .iter()
                .filter(|s| outcome.credits(l.credit_student_ids.contains(&s.id)))
                .map(|s| NewCredit {
                    family: s.family_id.clone(),
                    student: s.id.clone(),
                    reason: match outcome.makeup {
                        Makeup::ReturnPrepaid => "credit returned: cancelled with notice".into(),
                        _ => format!("{} cancelled", who.as_str()),
                    },
                    expires_at: expires.clone(),
                })
                .collect();
            credits_issued += c.credits.len();
            // A package lesson comes back unless the seat is charged for
            // (late): then it was spent, as a card would have been.
            if !outcome.chargeable {
                let ids: Vec<String> = leaving.iter().map(|s| s.id.clone()).collect();
                c.return_units = l.units_of(&ids);
            }
            chargeable |= outcome.chargeable;
            if let (true, Some(charging)) = (outcome.chargeable, &deps.charging) {
                let week = charge::week_of(&deps.store, l).await?;
                let leaving: Vec<String> = leaving.iter().map(|s| s.id.clone()).collect();
                let (charges, entries) = charge::plan(
                    &charging.rules,
                    &week,
                    l,
                    ChargePurpose::LateCancellation,
                    &leaving,
                );
                owed.0.extend(charges);
                owed.1.extend(entries);
            }
            changes.push(c);
        }
        let ids: Vec<String> = changes.iter().map(|c| c.id.clone()).collect();
        told.sort();
        told.dedup();
        let jobs = [notify::jobs::notice(Kind::Cancelled, &ids, &told, now)];
        match deps
            .store
            .apply_lessons(&changes, None, 0, &jobs, (&owed.0, &owed.1), now)
            .await
        {
            Err(StoreError::Refused(Refusal::StaleVersion)) => continue,
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        deps.notifier.wake();
        if let (false, Some(charging)) = (owed.0.is_empty(), &deps.charging) {
            charging.charger.wake();
        }
        let occurrences = deps.store.occurrences(&ids).await?;
        let before: Vec<String> = lessons.iter().flat_map(LessonState::family_ids).collect();
        let change = if whole {
            Change::Cancelled
        } else {
            Change::Updated
        };
        push::calendar_changed(deps, &occurrences, change, &before);
        return Ok(CancelResponse {
            occurrences,
            credits_issued,
            chargeable,
        });
    }
    Err(busy())
}

fn busy() -> LessonError {
    LessonError::Conflict("the lesson kept changing; try again".into())
}

pub async fn reschedule(
    deps: &Lessons,
    user: &Caller,
    id: &str,
    req: &RescheduleRequest,
) -> Result<RescheduleResponse, LessonError> {
    check_reason(&req.reason)?;
    let policy = deps.scheduling.policy();
    for _ in 0..PLAN_ATTEMPTS {
        let now = deps.clock.now();
        let l = changeable(deps, user, id).await?;
        if user.role == Role::Parent {
            let family = user.parent_family().ok_or_else(super::no_family)?;
            if l.seats.iter().any(|s| s.family_id != family) {
                return Err(LessonError::Forbidden(
                    "a lesson shared with another family is moved by the tutor or an admin".into(),
                ));
            }
            if l.starts_at - now < policy.notice {
                return Err(LessonError::Conflict(format!(
                    "lessons are moved at least {} hours ahead; cancel instead",
                    policy.notice.num_hours()
                )));
            }
        }
        let tz_name = req.timezone.clone().unwrap_or_else(|| l.timezone.clone());
        let tz = time::zone(&tz_name).map_err(|e| LessonError::Invalid(e.to_string()))?;
        let local =
            match time::parse_start(&req.start).map_err(|e| LessonError::Invalid(e.to_string()))? {
                StartSpec::Local(x) => x,
                StartSpec::Instant(t) => time::local(tz, t),
            };
        let duration_min = req.duration_min.unwrap_or(l.duration_min);
        let p: Planned = planned_start(tz, local, check_duration(duration_min)?, now)?;
        let tutor = tutor_for_booking(deps, &l.tutor_id).await?;
        let buffer = Duration::minutes(i64::from(tutor.buffer_min));
        let students = l.student_ids();
        let near = deps
            .store
            .lessons_near(&l.tutor_id, &students, p.start, p.end)
            .await?;
        let mut found = clashes(&p, &l.tutor_id, buffer, &students, &near, Some(&l.id));
        if user.role == Role::Parent {
            let avail = tutor
                .availability()
                .map_err(|e| LessonError::Invalid(e.to_string()))?;
            if !avail.contains(p.start, p.end) {
                found.push(p.clash("outside_availability", None));
            }
        }
        if !found.is_empty() {
            return Err(clash_error(found));
        }
        let new_id = new_key();
        let mut old = LessonChange::of(&l);
        old.status = LessonStatus::Rescheduled;
        old.rescheduled_to = Some(new_id.clone());
        old.free_all = true;
        old.cancellation = Some(NewCancellation {
            students: students.clone(),
            by: user.user_id.clone(),
            role: user.role,
            reason: format!("moved: {}", req.reason.trim()),
            notice_secs: (l.starts_at - now).num_seconds(),
            chargeable: false,
        });
        let new = NewLessons {
            tutor: l.tutor_id.clone(),
            students: students.clone(),
            families: l.family_ids(),
            kind: l.kind,
            subject: l.subject_id.clone(),
            template: l.template_id.clone(),
            timezone: tz.name().to_owned(),
            duration_min,
            buffer_min: tutor.buffer_min,
            price_pence: l.price_pence,
            booked_by: user.user_id.clone(),
            series: None,
            rescheduled_from: Some(l.id.clone()),
            carry_credits: l.credit_ids.clone(),
            credit_family: None,
            carry_units: l.package_units.iter().map(|u| u.id.clone()).collect(),
            package_family: None,
            lessons: vec![NewOccurrence {
                id: new_id.clone(),
                starts_at: ts(p.start),
                ends_at: ts(p.end),
                local_start: p.local_start.clone(),
                cells: cells(&p, &l.tutor_id, buffer, &students),
            }],
        };
        let mut jobs = notify::jobs::reminders(&new_id, p.start, &deps.reminders.offsets_min, now);
        jobs.push(notify::jobs::notice(
            Kind::Rescheduled,
            std::slice::from_ref(&new_id),
            &l.family_ids(),
            now,
        ));
        match deps
            .store
            .apply_lessons(&[old], Some(&new), 0, &jobs, (&[], &[]), now)
            .await
        {
            Err(StoreError::Refused(Refusal::StaleVersion)) => continue,
            // Taken meanwhile: plan again, which names the clash.
            Err(StoreError::Duplicate(_)) => continue,
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        deps.notifier.wake();
        // The new lesson stays in its series.
        let occurrences = deps.store.occurrences(&[l.id.clone(), new_id]).await?;
        push::calendar_changed(deps, &occurrences, Change::Rescheduled, &[]);
        let mut it = occurrences.into_iter();
        let (Some(a), Some(b)) = (it.next(), it.next()) else {
            return Err(not_found());
        };
        let (previous, occurrence) = if a.id == l.id { (a, b) } else { (b, a) };
        return Ok(RescheduleResponse {
            previous,
            occurrence,
        });
    }
    Err(busy())
}

fn clash_error(found: Vec<super::Clash>) -> LessonError {
    LessonError::Clashes {
        message: "the new time is not free".into(),
        clashes: found,
    }
}

pub async fn add_students(
    deps: &Lessons,
    user: &Caller,
    id: &str,
    req: &AddStudentsRequest,
) -> Result<Occurrence, LessonError> {
    if user.role == Role::Tutor {
        return Err(LessonError::Forbidden(
            "parents and admins add students".into(),
        ));
    }
    let mut ids: Vec<String> = req.student_ids.iter().map(ToString::to_string).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() || ids.len() != req.student_ids.len() {
        return Err(LessonError::Invalid(
            "student_ids must list distinct students".into(),
        ));
    }
    let students = deps.store.students_by_ids(&ids).await?;
    if students.len() != ids.len() {
        return Err(LessonError::NotFound("no such student".into()));
    }
    if user.role == Role::Parent {
        let family = user.parent_family().ok_or_else(super::no_family)?;
        if students.iter().any(|s| s.family_id != family) {
            // As in booking: another family's child is no child at all.
            return Err(LessonError::NotFound("no such student".into()));
        }
    }
    for _ in 0..PLAN_ATTEMPTS {
        let now = deps.clock.now();
        // Peers from another family may join a group lesson they cannot see
        // yet: an open group lesson with a free seat is visible to anyone
        // holding its id. Any other lesson they cannot see answers exactly
        // as a missing one, so neither its existence nor its kind leaks.
        let l = match deps.store.lesson_state(id).await {
            Err(StoreError::NotFound) => return Err(not_found()),
            other => other?,
        };
        let joinable = l.kind == LessonKind::Group
            && l.status.changeable()
            && l.starts_at > now
            && l.seats.len() < MAX_GROUP;
        if !may_see(user, &l) && !joinable {
            return Err(not_found());
        }
        if !l.status.changeable() || l.starts_at <= now {
            return Err(LessonError::Conflict(
                "this lesson is not open for changes".into(),
            ));
        }
        if l.kind != LessonKind::Group {
            return Err(LessonError::Conflict(
                "this is a one-to-one lesson, not a group".into(),
            ));
        }
        if ids.iter().any(|s| l.seats.iter().any(|x| &x.id == s)) {
            return Err(LessonError::Conflict("already in this lesson".into()));
        }
        if l.seats.len() + ids.len() > MAX_GROUP {
            return Err(LessonError::Conflict(format!(
                "a group lesson has at most {MAX_GROUP} students; it has {}",
                l.seats.len()
            )));
        }
        let p = Planned {
            start: l.starts_at,
            end: l.ends_at,
            local_start: l.local_start.clone(),
        };
        let near = deps
            .store
            .lessons_near(&l.tutor_id, &ids, p.start, p.end)
            .await?;
        // Only the new students' time matters: the tutor is already held.
        let found: Vec<_> = clashes(&p, "", Duration::zero(), &ids, &near, Some(&l.id));
        if !found.is_empty() {
            return Err(clash_error(found));
        }
        let mut c = LessonChange::of(&l);
        c.students.extend(ids.iter().cloned());
        c.families
            .extend(students.iter().map(|s| s.family_id.clone()));
        c.families.sort();
        c.families.dedup();
        c.add_cells = cells(&p, &l.tutor_id, Duration::zero(), &ids)
            .into_iter()
            .filter(|(owner, _)| owner.is_student())
            .collect();
        let added: Vec<String> = students.iter().map(|s| s.family_id.clone()).collect();
        let jobs = [notify::jobs::notice(
            Kind::Booked,
            std::slice::from_ref(&l.id),
            &added,
            now,
        )];
        match deps
            .store
            .apply_lessons(&[c], None, 0, &jobs, (&[], &[]), now)
            .await
        {
            Err(StoreError::Refused(Refusal::StaleVersion)) => continue,
            Err(StoreError::Duplicate(_)) => continue,
            Err(StoreError::Invalid(_)) => {
                return Err(LessonError::Conflict(format!(
                    "a group lesson has at most {MAX_GROUP} students"
                )));
            }
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        deps.notifier.wake();
        let occurrence = deps.store.occurrence(&l.id).await?;
        push::calendar_changed(
            deps,
            std::slice::from_ref(&occurrence),
            Change::Updated,
            &[],
        );
        return Ok(occurrence);
    }
    Err(busy())
}
