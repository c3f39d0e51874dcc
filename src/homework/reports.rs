//! Termly progress reports: a tutor who teaches a child writes one (text
//! sections and an attainment level per subject); the child's parents read
//! it; admins list them all.

use cms_domain::{Caller, Role};
use cms_store::homework::{Attainment, NewReportRow, ReportRow, ReportSection};
use serde::Deserialize;

use super::Homework;
use crate::documents::DocumentError as Error;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// e.g. "Autumn 2026".
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub term: String,
    #[schema(min_items = 1, max_items = 20)]
    pub sections: Vec<ReportSection>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub attainment: Vec<Attainment>,
}

/// One line (`lines` false) is checked as every name is
/// (`cms_domain::text`); paragraphs may hold line breaks and tabs.
fn check(field: &str, v: &str, max: usize, lines: bool) -> Result<(), Error> {
    if !lines {
        return cms_domain::text::check_plain_text(field, v, max)
            .map(|_| ())
            .map_err(|e| Error::Invalid(e.to_string()));
    }
    let n = v.trim().chars().count();
    if n == 0 || n > max {
        return Err(Error::Invalid(format!("{field} is 1 to {max} characters")));
    }
    if v.chars()
        .any(|c| c.is_control() && !(lines && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(Error::Invalid(format!("{field} holds control characters")));
    }
    Ok(())
}

impl Homework {
    pub async fn write_report(
        &self,
        tutor: &Caller,
        student: &str,
        r: &NewReport,
    ) -> Result<ReportRow, Error> {
        if tutor.role != Role::Tutor {
            return Err(Error::Forbidden(Role::Tutor));
        }
        self.may_see_student(tutor, student).await?;
        check("term", &r.term, 60, false)?;
        if r.sections.is_empty() || r.sections.len() > 20 || r.attainment.len() > 20 {
            return Err(Error::Invalid(
                "1 to 20 sections and at most 20 attainment levels".into(),
            ));
        }
        for s in &r.sections {
            check("heading", &s.heading, 200, false)?;
            check("text", &s.text, 10_000, true)?;
        }
        for a in &r.attainment {
            check("subject", &a.subject, 100, false)?;
            check("level", &a.level, 60, false)?;
        }
        let id = cms_store::new_key();
        let row = NewReportRow {
            id: &id,
            student,
            tutor: &tutor.user_id,
            term: r.term.trim(),
            sections: &r.sections,
            attainment: &r.attainment,
        };
        Ok(self.store.create_report(&row, self.clock.now()).await?)
    }

    /// A child's reports, newest first: their parents, tutors, admins.
    pub async fn reports_of(
        &self,
        caller: &Caller,
        student: &str,
    ) -> Result<Vec<ReportRow>, Error> {
        self.may_see_student(caller, student).await?;
        Ok(self.store.reports(Some(student), 200).await?)
    }
}
