//! Homework, hand-ins and termly reports. Setting homework, handing in and
//! grading each commit with the files they carry and the notification jobs
//! they cause, in one transaction: a hand-in withdraws that child's pending
//! due and overdue notices in the same commit, so a parent who has handed
//! in is never told they have not.

use chrono::{DateTime, Utc};
use cms_domain::homework::SubmissionStatus;
use cms_domain::notify::JobKind;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::documents::{FILE_FIELDS, FileRow, NewFile};
use super::{Store, StoreError, ts, without_nulls};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HomeworkStudent {
    pub id: String,
    pub name: String,
    pub family_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HomeworkRow {
    pub id: String,
    pub lesson_id: String,
    pub tutor_id: String,
    pub tutor_name: String,
    pub title: String,
    pub instructions: String,
    pub due_at: DateTime<Utc>,
    pub attachments: Vec<FileRow>,
    pub students: Vec<HomeworkStudent>,
    /// The hand-ins the caller may see (a parent: their children's).
    #[serde(default)]
    pub submissions: Vec<SubmissionRow>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmissionRow {
    pub homework_id: String,
    pub student_id: String,
    pub student_name: String,
    pub family_id: String,
    pub text: String,
    pub files: Vec<FileRow>,
    pub status: SubmissionStatus,
    pub first_submitted_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
    #[serde(default)]
    pub score: Option<u32>,
    #[serde(default)]
    pub max_score: Option<u32>,
    #[serde(default)]
    pub feedback: Option<String>,
    #[serde(default)]
    pub graded_at: Option<DateTime<Utc>>,
}

/// A notice about one homework and one child.
pub struct HomeworkJob {
    pub key: String,
    pub kind: JobKind,
    pub student: String,
    pub family: String,
    pub due_at: DateTime<Utc>,
}

impl HomeworkJob {
    fn json(&self) -> serde_json::Value {
        json!({
            "key": self.key, "kind": self.kind, "student": self.student,
            "family": self.family, "due_at": ts(self.due_at),
        })
    }
}

pub struct NewHomework<'a> {
    pub id: &'a str,
    pub lesson: &'a str,
    pub tutor: &'a str,
    pub students: &'a [String],
    pub families: &'a [String],
    pub title: &'a str,
    pub instructions: &'a str,
    pub due_at: DateTime<Utc>,
    pub files: &'a [NewFile<'a>],
}

/// One child's side of one homework, for the progress figures.
#[derive(Debug, Clone, Deserialize)]
pub struct AssignmentRow {
    pub student_id: String,
    pub due_at: DateTime<Utc>,
    #[serde(default)]
    pub submitted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub score: Option<u32>,
    #[serde(default)]
    pub max_score: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportSection {
    /// One line.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub heading: String,
    /// Paragraphs (line breaks kept).
    #[schema(
        min_length = 1,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attainment {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub subject: String,
    /// e.g. "Grade 6", "Working at expected standard".
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportRow {
    pub id: String,
    pub student_id: String,
    pub student_name: String,
    pub tutor_id: String,
    pub tutor_name: String,
    pub term: String,
    pub sections: Vec<ReportSection>,
    pub attainment: Vec<Attainment>,
    pub created_at: DateTime<Utc>,
}

/// A report about to be written.
pub struct NewReportRow<'a> {
    pub id: &'a str,
    pub student: &'a str,
    pub tutor: &'a str,
    pub term: &'a str,
    pub sections: &'a [ReportSection],
    pub attainment: &'a [Attainment],
}

/// Who may see a homework or hand-in file.
#[derive(Debug, Clone, Deserialize)]
pub struct FileAudience {
    pub tutor_id: String,
    pub families: Vec<String>,
}

fn file_list(field: &str) -> String {
    format!("(SELECT {FILE_FIELDS} FROM {field})")
}

fn submission_fields() -> String {
    format!(
        "record::id(homework) AS homework_id, record::id(student) AS student_id,
         student.name AS student_name, record::id(student.family) AS family_id, text,
         {} AS files, status, first_submitted_at, submitted_at, score, max_score, feedback,
         graded_at",
        file_list("$parent.files")
    )
}

fn homework_fields() -> String {
    format!(
        "record::id(id) AS id, record::id(lesson) AS lesson_id, record::id(tutor) AS tutor_id,
         tutor.name AS tutor_name, title, instructions, due_at, {} AS attachments,
         (SELECT record::id(id) AS id, name, record::id(family) AS family_id
            FROM $parent.students) AS students,
         {{ LET $homework = $parent.id;
            SELECT {} FROM submission WHERE homework = $homework ORDER BY student }}
            AS submissions,
         created_at",
        file_list("$parent.attachments"),
        submission_fields()
    )
}

const CREATE_FILES: &str = "FOR $f IN $files {
        CREATE type::record('file', $f.id) CONTENT {
            owner: type::record('user', $f.owner), purpose: $f.purpose, name: $f.name,
            media_type: $f.media_type, size: $f.size, sha256: $f.sha256, scan: $f.scan,
            scanned_at: IF $f.scan = 'quarantined' THEN NONE ELSE <datetime>$now END,
            created_at: <datetime>$now
        } RETURN NONE;
    };";

const CREATE_JOBS: &str = "FOR $j IN $jobs {
        CREATE type::record('notify_job', $j.key) CONTENT {
            kind: $j.kind, homework: $h, student: type::record('student', $j.student),
            lessons: [], families: [type::record('family', $j.family)],
            due_at: <datetime>$j.due_at, scheduled_at: <datetime>$j.due_at,
            status: 'pending', created_at: <datetime>$now
        } RETURN NONE;
    };";

fn files_json(files: &[NewFile<'_>]) -> serde_json::Value {
    files
        .iter()
        .map(|f| {
            json!({
                "id": f.id, "owner": f.owner, "purpose": f.purpose, "name": f.name,
                "media_type": f.media_type, "size": f.size, "sha256": f.sha256, "scan": f.scan,
            })
        })
        .collect()
}

impl Store {
    /// Sets homework with its attachments and its notices, together.
    pub async fn set_homework(
        &self,
        h: &NewHomework<'_>,
        jobs: &[HomeworkJob],
        now: DateTime<Utc>,
    ) -> Result<HomeworkRow, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $h = type::record('homework', $id);
             {CREATE_FILES}
             CREATE $h CONTENT {{
                 lesson: type::record('lesson', $lesson), tutor: type::record('user', $tutor),
                 students: array::map($students, |$s| type::record('student', $s)),
                 families: array::map($families, |$f| type::record('family', $f)),
                 title: $title, instructions: $instructions,
                 attachments: array::map($files, |$f| type::record('file', $f.id)),
                 due_at: <datetime>$due_at, created_at: <datetime>$now
             }} RETURN NONE;
             {CREATE_JOBS}
             SELECT {} FROM ONLY $h;
             COMMIT TRANSACTION;",
            homework_fields()
        );
        let vars = without_nulls(json!({
            "id": h.id, "lesson": h.lesson, "tutor": h.tutor, "students": h.students,
            "families": h.families, "title": h.title, "instructions": h.instructions,
            "due_at": ts(h.due_at), "files": files_json(h.files),
            "jobs": jobs.iter().map(HomeworkJob::json).collect::<Vec<_>>(), "now": ts(now),
        }));
        self.row(&sql, vars, 5).await
    }

    pub async fn homework(&self, id: &str) -> Result<HomeworkRow, StoreError> {
        let sql = format!(
            "SELECT {} FROM ONLY type::record('homework', $id)",
            homework_fields()
        );
        match self
            .row::<Option<HomeworkRow>>(&sql, json!({ "id": id }), 0)
            .await
        {
            Ok(Some(row)) => Ok(row),
            Ok(None) | Err(StoreError::NotFound) => Err(StoreError::NotFound),
            Err(e) => Err(e),
        }
    }

    /// Homework set for one child, soonest due first.
    pub async fn homework_for_student(
        &self,
        student: &str,
    ) -> Result<Vec<HomeworkRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM homework WHERE type::record('student', $student) IN students
             ORDER BY due_at",
            homework_fields()
        );
        self.rows(&sql, json!({ "student": student }), 0).await
    }

    /// A tutor's homework, soonest due first; of one lesson or one child.
    pub async fn homework_of_tutor(
        &self,
        tutor: &str,
        lesson: Option<&str>,
        student: Option<&str>,
    ) -> Result<Vec<HomeworkRow>, StoreError> {
        let mut filter = String::from("tutor = type::record('user', $tutor)");
        if lesson.is_some() {
            filter.push_str(" AND lesson = type::record('lesson', $lesson)");
        }
        if student.is_some() {
            filter.push_str(" AND type::record('student', $student) IN students");
        }
        let sql = format!(
            "SELECT {} FROM homework WHERE {filter} ORDER BY due_at",
            homework_fields()
        );
        self.rows(
            &sql,
            json!({ "tutor": tutor, "lesson": lesson, "student": student }),
            0,
        )
        .await
    }

    /// Hands in (or hands in again) one child's work, with its files, and
    /// withdraws that child's pending due and overdue notices. Refused once
    /// graded.
    pub async fn submit_homework(
        &self,
        homework: &str,
        student: &str,
        by: &str,
        text: &str,
        files: &[NewFile<'_>],
        now: DateTime<Utc>,
    ) -> Result<SubmissionRow, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $h = type::record('homework', $homework);
             LET $st = type::record('student', $student);
             LET $s = type::record('submission', [$homework, $student]);
             IF (SELECT VALUE status FROM ONLY $s) = 'graded' {{
                 THROW 'conflict: this homework has been graded; it can no longer be handed in again';
             }};
             {CREATE_FILES}
             UPSERT $s SET homework = $h, student = $st, by = type::record('user', $by),
                 text = $text, files = array::map($files, |$f| type::record('file', $f.id)),
                 status = 'submitted',
                 first_submitted_at = first_submitted_at ?? <datetime>$now,
                 submitted_at = <datetime>$now
                 RETURN NONE;
             -- By the homework's index alone (see live.rs, TRANSITION).
             LET $jobs = SELECT VALUE id FROM notify_job WHERE homework = $h;
             UPDATE $jobs SET status = 'withdrawn', note = 'handed in', done_at = <datetime>$now
                 WHERE student = $st AND status = 'pending'
                   AND kind IN ['homework_due', 'homework_overdue'] RETURN NONE;
             SELECT {} FROM ONLY $s;
             COMMIT TRANSACTION;",
            submission_fields()
        );
        let vars = json!({
            "homework": homework, "student": student, "by": by, "text": text,
            "files": files_json(files), "now": ts(now),
        });
        self.row(&sql, vars, 9).await
    }

    /// Grades a hand-in and makes the family's notice, together.
    #[allow(clippy::too_many_arguments)]
    pub async fn grade_homework(
        &self,
        homework: &str,
        student: &str,
        by: &str,
        score: u32,
        max_score: u32,
        feedback: Option<&str>,
        job: &HomeworkJob,
        now: DateTime<Utc>,
    ) -> Result<SubmissionRow, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $h = type::record('homework', $homework);
             LET $s = type::record('submission', [$homework, $student]);
             IF (SELECT VALUE status FROM ONLY $s) = NONE {{
                 THROW 'conflict: nothing has been handed in to grade';
             }};
             UPDATE $s SET status = 'graded', score = $score, max_score = $max_score,
                 feedback = $feedback, graded_by = type::record('user', $by),
                 graded_at = <datetime>$now RETURN NONE;
             UPSERT type::record('notify_job', $job.key) CONTENT {{
                 kind: $job.kind, homework: $h, student: type::record('student', $job.student),
                 lessons: [], families: [type::record('family', $job.family)],
                 due_at: <datetime>$job.due_at, scheduled_at: <datetime>$job.due_at,
                 status: 'pending', created_at: <datetime>$now
             }} RETURN NONE;
             SELECT {} FROM ONLY $s;
             COMMIT TRANSACTION;",
            submission_fields()
        );
        let vars = without_nulls(json!({
            "homework": homework, "student": student, "by": by, "score": score,
            "max_score": max_score, "feedback": feedback, "job": job.json(), "now": ts(now),
        }));
        self.row(&sql, vars, 6).await
    }

    /// One child's hand-in, if any.
    pub async fn submission(
        &self,
        homework: &str,
        student: &str,
    ) -> Result<Option<SubmissionRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM ONLY type::record('submission', [$homework, $student])",
            submission_fields()
        );
        let vars = json!({ "homework": homework, "student": student });
        match self.row::<Option<SubmissionRow>>(&sql, vars, 0).await {
            Err(StoreError::NotFound) => Ok(None),
            other => other,
        }
    }

    /// Every (child, homework) pair for the figures: of one child, or of
    /// every child a tutor set homework for.
    pub async fn assignments(
        &self,
        student: Option<&str>,
        tutor: Option<&str>,
    ) -> Result<Vec<AssignmentRow>, StoreError> {
        #[derive(Deserialize)]
        struct Set {
            id: String,
            students: Vec<String>,
            due_at: DateTime<Utc>,
        }
        #[derive(Deserialize)]
        struct Handed {
            homework: String,
            student: String,
            submitted_at: DateTime<Utc>,
            #[serde(default)]
            score: Option<u32>,
            #[serde(default)]
            max_score: Option<u32>,
        }
        let mut filter = vec!["true"];
        if student.is_some() {
            filter.push("type::record('student', $student) IN students");
        }
        if tutor.is_some() {
            filter.push("tutor = type::record('user', $tutor)");
        }
        let sql = format!(
            "LET $hw = SELECT VALUE id FROM homework WHERE {};
             RETURN {{
                 sets: (SELECT record::id(id) AS id,
                     array::map(students, |$s| record::id($s)) AS students, due_at FROM $hw),
                 handed: (SELECT record::id(homework) AS homework, record::id(student) AS student,
                     submitted_at, score, max_score FROM submission WHERE homework IN $hw)
             }};",
            filter.join(" AND ")
        );
        let vars = json!({ "student": student, "tutor": tutor });
        #[derive(Deserialize)]
        struct Both {
            sets: Vec<Set>,
            handed: Vec<Handed>,
        }
        // One round trip: the homework and its hand-ins together.
        let Both { sets, handed } = self.row(&sql, vars, 1).await?;
        let handed: std::collections::HashMap<(String, String), Handed> = handed
            .into_iter()
            .map(|h| ((h.homework.clone(), h.student.clone()), h))
            .collect();
        let mut out = Vec::new();
        for set in sets {
            for st in set.students {
                if student.is_some_and(|s| s != st) {
                    continue;
                }
                let h = handed.get(&(set.id.clone(), st.clone()));
                out.push(AssignmentRow {
                    due_at: set.due_at,
                    submitted_at: h.map(|h| h.submitted_at),
                    score: h.and_then(|h| h.score),
                    max_score: h.and_then(|h| h.max_score),
                    student_id: st,
                });
            }
        }
        Ok(out)
    }

    /// Who may see a homework attachment or a hand-in's file, if it is one.
    pub async fn homework_file_audience(
        &self,
        file: &str,
    ) -> Result<Option<FileAudience>, StoreError> {
        let sql = "LET $f = type::record('file', $file);
             LET $hw = (SELECT VALUE { tutor_id: record::id(tutor),
                     families: array::map(families, |$x| record::id($x)) }
                 FROM homework WHERE $f IN attachments LIMIT 1)[0];
             LET $sub = (SELECT VALUE { tutor_id: record::id(homework.tutor),
                     families: [record::id(student.family)] }
                 FROM submission WHERE $f IN files LIMIT 1)[0];
             RETURN $hw ?? $sub;";
        match self
            .row::<Option<FileAudience>>(sql, json!({ "file": file }), 3)
            .await
        {
            Err(StoreError::NotFound) => Ok(None),
            other => other,
        }
    }

    pub async fn create_report(
        &self,
        r: &NewReportRow<'_>,
        now: DateTime<Utc>,
    ) -> Result<ReportRow, StoreError> {
        let sql = format!(
            "CREATE type::record('report', $id) CONTENT {{
                 student: type::record('student', $student), tutor: type::record('user', $tutor),
                 term: $term, sections: $sections, attainment: $attainment,
                 created_at: <datetime>$now
             }} RETURN NONE;
             SELECT {REPORT_FIELDS} FROM ONLY type::record('report', $id);"
        );
        let vars = json!({
            "id": r.id, "student": r.student, "tutor": r.tutor, "term": r.term,
            "sections": r.sections, "attainment": r.attainment, "now": ts(now),
        });
        self.row(&sql, vars, 1).await
    }

    /// Reports, newest first: of one child, or all (admins).
    pub async fn reports(
        &self,
        student: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let filter = if student.is_some() {
            "WHERE student = type::record('student', $student)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {REPORT_FIELDS} FROM report {filter} ORDER BY created_at DESC LIMIT $limit"
        );
        self.rows(&sql, json!({ "student": student, "limit": limit }), 0)
            .await
    }

    /// Whether `tutor` has ever taught `student` (a lesson, any status but
    /// cancelled), which lets them see the child's progress and report on it.
    pub async fn teaches_student(&self, tutor: &str, student: &str) -> Result<bool, StoreError> {
        let sql = "RETURN array::len(SELECT VALUE id FROM lesson
                 WHERE tutor = type::record('user', $tutor)
                   AND type::record('student', $student) IN students
                   AND status != 'cancelled' LIMIT 1) > 0;";
        let v = self
            .value(sql, json!({ "tutor": tutor, "student": student }), 0)
            .await?;
        Ok(v.as_bool().unwrap_or(false))
    }
}

const REPORT_FIELDS: &str = "record::id(id) AS id, record::id(student) AS student_id, \
     student.name AS student_name, record::id(tutor) AS tutor_id, tutor.name AS tutor_name, \
     term, sections, attainment, created_at";
