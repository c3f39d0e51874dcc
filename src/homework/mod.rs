//! Homework: a tutor sets it for the students of one of their lessons,
//! with attachments and a due time; each child's family hands in (text and
//! files, again and again until graded); the tutor grades; everyone reads
//! the progress figures. Termly reports are in `reports.rs`.
//!
//! Every notice is a notification job made in the transaction of the change
//! that causes it (set → `homework_set` now and `homework_due` a day before
//! the due time; `homework_overdue` at it; graded → `homework_graded`), one
//! per child, so a hand-in withdraws exactly that child's pending ones.

pub mod reports;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cms_actors::messages::Push;
use cms_actors::{Broker, Clock};
use cms_domain::files::FilePurpose;
use cms_domain::homework::{
    Assignment, DUE_REMINDER, MAX_FEEDBACK_CHARS, MAX_INSTRUCTIONS_CHARS, MAX_TITLE_CHARS,
    Progress, progress,
};
use cms_domain::lesson::LessonStatus;
use cms_domain::notify::JobKind;
use cms_domain::{Caller, Role};
use cms_protocol::{Topic, event};
use cms_store::Store;
use cms_store::documents::NewFile;
use cms_store::homework::{HomeworkJob, HomeworkRow, NewHomework, SubmissionRow};

use crate::documents::DocumentError as Error;
use crate::files::{Accepted, Form, Uploads};

/// What the homework use cases need.
#[derive(Clone)]
pub struct Homework {
    pub store: Store,
    pub uploads: Uploads,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
    pub notifier: crate::notify::NotifyHandle,
}

/// The payload of `homework:set`, to each family with a child in it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HomeworkSetPush<'a> {
    pub homework: &'a HomeworkRow,
}

fn invalid(m: impl Into<String>) -> Error {
    Error::Invalid(m.into())
}

/// Refuses fields the form does not know.
fn known_fields(form: &Form, text: &[&str], file_field: &str) -> Result<(), Error> {
    if let Some(unknown) = form.text.keys().find(|k| !text.contains(&k.as_str())) {
        return Err(invalid(format!("unknown field {unknown:?}")));
    }
    if let Some(other) = form.files.iter().find(|f| f.field != file_field) {
        return Err(invalid(format!("unknown file field {:?}", other.field)));
    }
    Ok(())
}

fn plain(form: &Form, name: &str, max: usize, required: bool) -> Result<String, Error> {
    match form.text(name) {
        None if required => Err(invalid(format!("{name} is required"))),
        None => Ok(String::new()),
        Some(v) if v.chars().count() > max => {
            Err(invalid(format!("{name} is at most {max} characters")))
        }
        Some(v)
            if v.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            Err(invalid(format!("{name} holds control characters")))
        }
        Some(v) => Ok(v.to_owned()),
    }
}

impl Homework {
    /// Checks and seals every file of a form; an infected one refuses the
    /// whole request (nothing is recorded).
    async fn accept_all(&self, form: &Form) -> Result<Vec<Accepted>, Error> {
        let mut accepted = Vec::with_capacity(form.files.len());
        for file in &form.files {
            accepted.push(self.uploads.accept(file).await?);
        }
        Ok(accepted)
    }

    /// Sets homework for the students of `lesson_id`: its tutor only.
    pub async fn set(
        &self,
        tutor: &Caller,
        lesson_id: &str,
        form: &Form,
    ) -> Result<HomeworkRow, Error> {
        if tutor.role != Role::Tutor {
            return Err(Error::Forbidden(Role::Tutor));
        }
        known_fields(form, &["title", "instructions", "due_at"], "file")?;
        let lesson = self.store.occurrence(lesson_id).await?;
        if lesson.tutor.id != tutor.user_id {
            return Err(Error::NotFound);
        }
        if matches!(
            lesson.status,
            LessonStatus::Cancelled | LessonStatus::Rescheduled
        ) {
            return Err(invalid(
                "homework is set for a lesson that takes place, not a cancelled or moved one",
            ));
        }
        if lesson.students.is_empty() {
            return Err(invalid("this lesson has no students"));
        }
        let title = plain(form, "title", MAX_TITLE_CHARS, true)?;
        let instructions = plain(form, "instructions", MAX_INSTRUCTIONS_CHARS, false)?;
        let now = self.clock.now();
        let due_at: DateTime<Utc> = form
            .text("due_at")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| invalid("due_at is an RFC 3339 date-time, e.g. 2027-01-15T17:00:00Z"))?;
        if due_at <= now {
            return Err(invalid("due_at is in the future"));
        }
        let files = self.accept_all(form).await?;
        let id = cms_store::new_key();
        let students: Vec<String> = lesson.students.iter().map(|s| s.id.clone()).collect();
        let mut families: Vec<String> = lesson
            .students
            .iter()
            .map(|s| s.family_id.clone())
            .collect();
        families.sort();
        families.dedup();
        let mut jobs = Vec::new();
        for s in &lesson.students {
            let job = |kind: JobKind, tag: &str, at: DateTime<Utc>| HomeworkJob {
                key: format!("{id}.{}.{tag}", s.id),
                kind,
                student: s.id.clone(),
                family: s.family_id.clone(),
                due_at: at,
            };
            jobs.push(job(JobKind::HomeworkSet, "set", now));
            let remind = due_at - DUE_REMINDER;
            if remind > now {
                jobs.push(job(JobKind::HomeworkDue, "due", remind));
            }
            jobs.push(job(JobKind::HomeworkOverdue, "overdue", due_at));
        }
        let new_files: Vec<NewFile<'_>> = files
            .iter()
            .map(|f| f.as_new(&tutor.user_id, FilePurpose::Homework))
            .collect();
        let row = self
            .store
            .set_homework(
                &NewHomework {
                    id: &id,
                    lesson: lesson_id,
                    tutor: &tutor.user_id,
                    students: &students,
                    families: &families,
                    title: &title,
                    instructions: &instructions,
                    due_at,
                    files: &new_files,
                },
                &jobs,
                now,
            )
            .await?;
        self.notifier.wake();
        let push = HomeworkSetPush { homework: &row };
        for family in &families {
            self.broker.publish(Push::new(
                Topic::Family(family.as_str().into()),
                event::HOMEWORK_SET,
                &push,
            ));
        }
        Ok(row)
    }

    /// One homework as the caller may see it: its tutor and admins see
    /// every hand-in; a parent with a child in it sees their children's.
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<HomeworkRow, Error> {
        let hw = self.store.homework(id).await?;
        self.visible(caller, hw).ok_or(Error::NotFound)
    }

    fn visible(&self, caller: &Caller, mut hw: HomeworkRow) -> Option<HomeworkRow> {
        match caller.role {
            Role::Admin => Some(hw),
            Role::Tutor => (hw.tutor_id == caller.user_id).then_some(hw),
            Role::Parent => {
                let family = caller.parent_family()?;
                if !hw.students.iter().any(|s| s.family_id == family) {
                    return None;
                }
                hw.submissions.retain(|s| s.family_id == family);
                Some(hw)
            }
        }
    }

    /// Homework set for one child: for their parents, the tutors who set
    /// it, and admins.
    pub async fn for_student(
        &self,
        caller: &Caller,
        student: &str,
    ) -> Result<Vec<HomeworkRow>, Error> {
        self.may_see_student(caller, student).await?;
        let all = self.store.homework_for_student(student).await?;
        Ok(all
            .into_iter()
            .filter_map(|hw| self.visible(caller, hw))
            .collect())
    }

    /// A tutor's homework, of one lesson or one child if asked.
    pub async fn of_tutor(
        &self,
        tutor: &Caller,
        lesson: Option<&str>,
        student: Option<&str>,
    ) -> Result<Vec<HomeworkRow>, Error> {
        if tutor.role != Role::Tutor {
            return Err(Error::Forbidden(Role::Tutor));
        }
        Ok(self
            .store
            .homework_of_tutor(&tutor.user_id, lesson, student)
            .await?)
    }

    /// A family hands in one child's work (again, until graded).
    pub async fn submit(
        &self,
        parent: &Caller,
        homework_id: &str,
        form: &Form,
    ) -> Result<SubmissionRow, Error> {
        let family = parent
            .parent_family()
            .ok_or(Error::Forbidden(Role::Parent))?;
        known_fields(form, &["student_id", "text"], "file")?;
        let hw = self.store.homework(homework_id).await?;
        let student = form
            .text("student_id")
            .ok_or_else(|| invalid("student_id is the child handing in"))?;
        let Some(child) = hw
            .students
            .iter()
            .find(|s| s.id == student && s.family_id == family)
        else {
            // Not theirs, or not in this homework: nothing to see.
            return Err(Error::NotFound);
        };
        let text = plain(form, "text", 20_000, false)?;
        if text.trim().is_empty() && form.files.is_empty() {
            return Err(invalid("hand in some text, a file, or both"));
        }
        let files = self.accept_all(form).await?;
        let new_files: Vec<NewFile<'_>> = files
            .iter()
            .map(|f| f.as_new(&parent.user_id, FilePurpose::Submission))
            .collect();
        Ok(self
            .store
            .submit_homework(
                homework_id,
                &child.id,
                &parent.user_id,
                &text,
                &new_files,
                self.clock.now(),
            )
            .await?)
    }

    /// The tutor grades one child's hand-in: a score out of a maximum they
    /// choose, and feedback.
    pub async fn grade(
        &self,
        tutor: &Caller,
        homework_id: &str,
        student: &str,
        g: &GradeRequest,
    ) -> Result<SubmissionRow, Error> {
        if tutor.role != Role::Tutor {
            return Err(Error::Forbidden(Role::Tutor));
        }
        let hw = self.store.homework(homework_id).await?;
        if hw.tutor_id != tutor.user_id {
            return Err(Error::NotFound);
        }
        let Some(child) = hw.students.iter().find(|s| s.id == student) else {
            return Err(Error::NotFound);
        };
        if g.max_score == 0 || g.max_score > 1000 || g.score > g.max_score {
            return Err(invalid("score is 0 to max_score, and max_score 1 to 1,000"));
        }
        if g.feedback
            .as_ref()
            .is_some_and(|f| f.chars().count() > MAX_FEEDBACK_CHARS)
        {
            return Err(invalid(format!(
                "feedback is at most {MAX_FEEDBACK_CHARS} characters"
            )));
        }
        let now = self.clock.now();
        let job = HomeworkJob {
            key: format!("{homework_id}.{}.graded", child.id),
            kind: JobKind::HomeworkGraded,
            student: child.id.clone(),
            family: child.family_id.clone(),
            due_at: now,
        };
        let row = self
            .store
            .grade_homework(
                homework_id,
                &child.id,
                &tutor.user_id,
                g.score,
                g.max_score,
                g.feedback
                    .as_deref()
                    .map(str::trim)
                    .filter(|f| !f.is_empty()),
                &job,
                now,
            )
            .await?;
        self.notifier.wake();
        Ok(row)
    }

    /// A child's figures: for their parents, their tutors and admins.
    pub async fn student_progress(
        &self,
        caller: &Caller,
        student: &str,
    ) -> Result<Progress, Error> {
        self.may_see_student(caller, student).await?;
        let rows = self.store.assignments(Some(student), None).await?;
        Ok(self.figures(&rows))
    }

    /// The figures over every child a tutor set homework for.
    pub async fn tutor_stats(&self, tutor: &Caller) -> Result<Progress, Error> {
        if tutor.role != Role::Tutor {
            return Err(Error::Forbidden(Role::Tutor));
        }
        let rows = self.store.assignments(None, Some(&tutor.user_id)).await?;
        Ok(self.figures(&rows))
    }

    fn figures(&self, rows: &[cms_store::homework::AssignmentRow]) -> Progress {
        let items: Vec<Assignment> = rows
            .iter()
            .map(|r| Assignment {
                due_at: r.due_at,
                submitted_at: r.submitted_at,
                grade: r.score.zip(r.max_score),
            })
            .collect();
        progress(&items, self.clock.now(), chrono_tz::Europe::London)
    }

    /// A child's parents, the tutors who teach them, and admins; anyone
    /// else (and a missing child) gets the same 404.
    pub async fn may_see_student(&self, caller: &Caller, student: &str) -> Result<(), Error> {
        let allowed = match caller.role {
            // A missing child is the 404 below; a store failure is not.
            Role::Admin => self.store.student(student).await.map(|_| true),
            Role::Parent => self
                .store
                .student(student)
                .await
                .map(|s| caller.parent_family() == Some(s.family_id.as_str())),
            Role::Tutor => self.store.teaches_student(&caller.user_id, student).await,
        };
        let allowed = match allowed {
            Err(cms_store::StoreError::NotFound) => false,
            other => other?,
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Who may read a homework attachment or a hand-in's file: the tutor
    /// and the families of the children it is for, and admins.
    pub async fn may_read_file(&self, caller: &Caller, file: &str) -> Result<bool, Error> {
        let Some(audience) = self.store.homework_file_audience(file).await? else {
            return Ok(false);
        };
        Ok(match caller.role {
            Role::Admin => true,
            Role::Tutor => audience.tutor_id == caller.user_id,
            Role::Parent => caller
                .parent_family()
                .is_some_and(|f| audience.families.iter().any(|x| x == f)),
        })
    }
}

/// A grade.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeRequest {
    #[schema(minimum = 0, maximum = 1000)]
    pub score: u32,
    #[schema(minimum = 1, maximum = 1000)]
    pub max_score: u32,
    #[schema(max_length = 5000)]
    pub feedback: Option<String>,
}
