//! The actors' [`LessonPort`], served by the lesson use cases and the
//! video handoff: a lesson room reads its lesson and who may enter from the
//! store, starts and ends the lesson through `lessons::live` (the code
//! `POST /lessons/{id}/start|end` runs, so the store's version guard decides
//! between a socket and REST), and mints each person's video handoff. It
//! also serves the admins' board its rows (`lessons::board`) and pushes a
//! lesson's row, with the room's people, when someone enters or leaves.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cms_actors::Identity;
use cms_actors::lesson_port::{LessonPort, LessonPortError, LessonView, Transitioned};
use cms_domain::Caller;
use cms_domain::ids::StudentId;
use cms_domain::lifecycle::LessonEventKind;
use cms_protocol::board::{BoardChange, BoardLesson, RoomPerson};
use cms_protocol::calendar::Occurrence;
use cms_protocol::lesson::{EndLesson, LessonInfo};
use cms_store::StoreError;
use cms_store::chat::MemberGroup;
use serde_json::Value;

use crate::config::VideoConfig;
use crate::lessons::board;
use crate::lessons::live::{self, AttendanceInput, EndRequest, Marked};
use crate::lessons::{LessonError, Lessons};
use crate::video::{self, Participant, RoomWindow};

/// How far back a moved lesson's chain is followed for its room key; a
/// lesson is moved a handful of times at most.
const MAX_RESCHEDULE_HOPS: usize = 16;

/// The lesson room's view of the server.
pub struct LessonRoom {
    pub lessons: Lessons,
    pub video: VideoConfig,
    /// The server's token secret: video rooms derive from it.
    pub secret: Vec<u8>,
}

fn store_error(e: StoreError) -> LessonPortError {
    match e {
        StoreError::NotFound => LessonPortError::NotFound("no such lesson".into()),
        other => {
            tracing::error!(error = %other, "lesson room: store failed");
            LessonPortError::Unavailable("the lesson store is unavailable; try again".into())
        }
    }
}

fn lesson_error(e: LessonError) -> LessonPortError {
    match e {
        LessonError::Invalid(m) => LessonPortError::Invalid(m),
        LessonError::NotFound(m) => LessonPortError::NotFound(m),
        LessonError::Forbidden(m) => LessonPortError::Forbidden(m),
        LessonError::Conflict(m) => LessonPortError::Conflict(m),
        LessonError::Clashes { message, .. } => LessonPortError::Conflict(message),
        LessonError::TooMany { message, .. } => LessonPortError::Conflict(message),
        LessonError::Store(e) => store_error(*e),
    }
}

/// The socket's identity as a use case's caller. The family is not known
/// on the socket, and not needed: parents are refused before a lesson is
/// read, and tutors and admins see lessons without one.
fn caller(who: &Identity) -> Caller {
    Caller {
        user_id: who.user_id.clone(),
        name: who.name.clone(),
        role: who.role,
        family_id: None,
    }
}

fn info(o: &Occurrence) -> LessonInfo {
    LessonInfo {
        id: o.id.clone(),
        status: o.status,
        start: o.start,
        end: o.end,
        tutor: o.tutor.clone(),
        students: o.students.clone(),
        attendance: o.attendance.clone(),
    }
}

fn transitioned(o: &Occurrence, at: Option<DateTime<Utc>>) -> Transitioned {
    Transitioned {
        info: info(o),
        // The store sets the instant; absent only if it did not, then the
        // lesson's own start stands in rather than a made-up now.
        at: at.unwrap_or(o.start),
    }
}

impl LessonRoom {
    /// The original lesson's id: a moved lesson keeps its video room.
    async fn room_key(&self, o: &Occurrence) -> String {
        let mut key = o.id.clone();
        let mut from = o.rescheduled_from.clone();
        for _ in 0..MAX_RESCHEDULE_HOPS {
            let Some(prev) = from else { break };
            match self.lessons.store.occurrence(&prev).await {
                Ok(p) => {
                    key = p.id;
                    from = p.rescheduled_from;
                }
                // The earlier lesson cannot be read: its id is still the
                // key it would have given.
                Err(_) => {
                    key = prev;
                    break;
                }
            }
        }
        key
    }
}

#[async_trait]
impl LessonPort for LessonRoom {
    async fn load(&self, lesson_id: &str) -> Result<LessonView, LessonPortError> {
        let store = &self.lessons.store;
        let o = store.occurrence(lesson_id).await.map_err(store_error)?;
        let mut families: Vec<&str> = o.students.iter().map(|s| s.family_id.as_str()).collect();
        families.sort_unstable();
        families.dedup();
        let mut member_ids = vec![o.tutor.id.clone()];
        for f in families {
            match store.group_members(MemberGroup::Family, f).await {
                Ok(parents) => member_ids.extend(parents),
                // A family gone since the booking has nobody to let in.
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(store_error(e)),
            }
        }
        let room_key = self.room_key(&o).await;
        Ok(LessonView {
            info: info(&o),
            rescheduled_to: o.rescheduled_to.clone(),
            member_ids,
            room_key,
        })
    }

    async fn start(
        &self,
        who: &Identity,
        lesson_id: &str,
    ) -> Result<Transitioned, LessonPortError> {
        let o = live::start(&self.lessons, &caller(who), lesson_id)
            .await
            .map_err(lesson_error)?;
        Ok(transitioned(&o, o.started_at))
    }

    async fn end(
        &self,
        who: &Identity,
        lesson_id: &str,
        req: EndLesson,
    ) -> Result<Transitioned, LessonPortError> {
        let mut attendance = Vec::with_capacity(req.attendance.len());
        for a in req.attendance {
            let student_id: StudentId = a.student_id.parse().map_err(|_| {
                LessonPortError::Invalid(format!("{:?} is not a student id", a.student_id))
            })?;
            let status = match a.status {
                cms_protocol::lesson::Mark::Present => Marked::Present,
                cms_protocol::lesson::Mark::Late => Marked::Late,
                cms_protocol::lesson::Mark::Absent => Marked::Absent,
            };
            attendance.push(AttendanceInput { student_id, status });
        }
        let req = EndRequest {
            attendance,
            notes: req.notes,
            homework_hint: req.homework_hint,
        };
        let o = live::end(&self.lessons, &caller(who), lesson_id, &req)
            .await
            .map_err(lesson_error)?;
        Ok(transitioned(&o, o.ended_at))
    }

    async fn board(&self, at: DateTime<Utc>) -> Result<Vec<BoardLesson>, LessonPortError> {
        board::lessons(&self.lessons.store, at)
            .await
            .map_err(store_error)
    }

    async fn room_entered(&self, lesson_id: &str, who: &Identity, entered: bool) {
        let deps = &self.lessons;
        let kind = if entered {
            LessonEventKind::Joined
        } else {
            LessonEventKind::Left
        };
        let logged = deps
            .store
            .log_lesson_event(lesson_id, Some(&who.user_id), kind, deps.clock.now())
            .await;
        if let Err(e) = logged {
            tracing::warn!(lesson = %lesson_id, error = %e, "room entry not logged");
        }
    }

    async fn presence_changed(&self, lesson_id: &str, in_room: Vec<RoomPerson>) {
        let deps = &self.lessons;
        let now = deps.clock.now();
        board::board_lesson_with(
            deps.broker.as_ref(),
            &deps.store,
            now,
            lesson_id,
            BoardChange::Presence,
            in_room,
        )
        .await;
    }

    fn video(&self, who: &Identity, lesson: &LessonView) -> Option<Value> {
        let timing = self.lessons.timing;
        let window = RoomWindow::for_lesson(
            lesson.info.start,
            lesson.info.end,
            timing.room_opens,
            timing.auto_end,
        );
        let person = Participant {
            user_id: who.user_id.clone(),
            name: who.name.clone(),
            is_tutor: lesson.is_tutor(who),
        };
        match video::handoff(&self.video, &self.secret, &lesson.room_key, &person, window) {
            Ok(Some(h)) => serde_json::to_value(&h)
                .inspect_err(|e| tracing::error!(error = %e, "video handoff did not encode"))
                .ok(),
            Ok(None) => None,
            // A misconfiguration, never the person's doing: no link, logged.
            Err(e) => {
                tracing::error!(lesson = %lesson.info.id, error = %e, "no video handoff");
                None
            }
        }
    }
}
