//! Tutors' documents: a tutor uploads a DBS certificate or a qualification,
//! an admin verifies or rejects it, and a verified DBS counts for
//! `documents.dbs_valid_months` from its issue date. Booking reads the DBS
//! inside its own transaction (the store's lesson transaction), so the rule
//! holds however many nodes take bookings; this module does the rest:
//! checking what was sent, the pushes, and who may read a file.

use std::sync::Arc;

use chrono::NaiveDate;
use cms_actors::messages::Push;
use cms_actors::{Broker, Clock};
use cms_domain::documents::{
    DbsStanding, DocumentKind, DocumentStatus, dbs_lapses_at, dbs_reminders,
};
use cms_domain::files::FilePurpose;
use cms_domain::{Caller, Role};
use cms_protocol::documents::{DocumentChange, DocumentChanged, UploadInfected};
use cms_protocol::{Topic, event};
use cms_store::documents::{DocumentRow, FileRow, NewDocument, Review};
use cms_store::{Store, StoreError};

pub mod rescan;

use crate::files::{Form, UploadError, Uploads};

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// What was sent is wrong; said to the sender.
    #[error("{0}")]
    Invalid(String),
    #[error("only a {0} may do this")]
    Forbidden(Role),
    /// Missing, or not the caller's to see: the same answer.
    #[error("not found")]
    NotFound,
    /// Boxed, as the store's error: both are large, and these travel by
    /// value.
    #[error(transparent)]
    Upload(Box<UploadError>),
    #[error(transparent)]
    Store(Box<StoreError>),
}

impl From<UploadError> for DocumentError {
    fn from(e: UploadError) -> Self {
        Self::Upload(Box::new(e))
    }
}

impl From<StoreError> for DocumentError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            other => Self::Store(Box::new(other)),
        }
    }
}

/// What the document use cases need.
#[derive(Clone)]
pub struct Documents {
    pub store: Store,
    pub uploads: Uploads,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
    pub config: crate::files::DocumentsConfig,
    /// Woken when a verification adds reminder jobs.
    pub notifier: crate::notify::NotifyHandle,
}

/// A tutor's documents and where their DBS leaves them.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TutorDocuments {
    #[schema(value_type = Object)]
    pub dbs: DbsStanding,
    pub documents: Vec<DocumentRow>,
}

impl Documents {
    /// A tutor's upload: the form's `kind` and its fields, and one file.
    pub async fn upload(&self, tutor: &Caller, form: &Form) -> Result<DocumentRow, DocumentError> {
        if tutor.role != Role::Tutor {
            return Err(DocumentError::Forbidden(Role::Tutor));
        }
        if let Some(unknown) = form.text.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(DocumentError::Invalid(format!("unknown field {unknown:?}")));
        }
        if let Some(other) = form.files.iter().find(|f| f.field != "file") {
            return Err(DocumentError::Invalid(format!(
                "unknown file field {:?}",
                other.field
            )));
        }
        let kind = form
            .text("kind")
            .and_then(DocumentKind::parse)
            .ok_or_else(|| {
                DocumentError::Invalid("kind must be \"dbs\" or \"qualification\"".into())
            })?;
        let [file] = form.files.as_slice() else {
            return Err(DocumentError::Invalid(
                "send exactly one file, in the field \"file\"".into(),
            ));
        };
        let fields = DocumentFields::read(kind, form, self.clock.now().date_naive())?;
        let accepted = match self.uploads.accept(file).await {
            Err(UploadError::Infected(signature)) => {
                self.publish_infected(None, &tutor.user_id, FilePurpose::Document, &signature);
                return Err(UploadError::Infected(signature).into());
            }
            other => other?,
        };
        let id = cms_store::new_key();
        let issued_on = fields.issued_on.map(|d| d.to_string());
        let doc = NewDocument {
            id: &id,
            tutor: &tutor.user_id,
            kind,
            certificate_number: fields.certificate_number.as_deref(),
            issued_on: issued_on.as_deref(),
            title: fields.title.as_deref(),
            institution: fields.institution.as_deref(),
            year: fields.year,
        };
        let row = self
            .store
            .create_document(
                &accepted.as_new(&tutor.user_id, FilePurpose::Document),
                &doc,
                self.clock.now(),
            )
            .await?;
        self.publish(&row, DocumentChange::Uploaded);
        Ok(row)
    }

    /// The caller's own documents and DBS standing.
    pub async fn mine(&self, tutor: &Caller) -> Result<TutorDocuments, DocumentError> {
        if tutor.role != Role::Tutor {
            return Err(DocumentError::Forbidden(Role::Tutor));
        }
        let now = self.clock.now();
        let record = self.store.dbs_record(&tutor.user_id, now).await?;
        Ok(TutorDocuments {
            dbs: DbsStanding::of(record.valid_until, record.newest, now),
            documents: self.store.documents_of(&tutor.user_id).await?,
        })
    }

    /// An admin's decision. Verifying a DBS fixes when it lapses, from its
    /// issue date.
    pub async fn review(
        &self,
        admin: &Caller,
        id: &str,
        verdict: Verdict,
    ) -> Result<DocumentRow, DocumentError> {
        if admin.role != Role::Admin {
            return Err(DocumentError::Forbidden(Role::Admin));
        }
        let doc = self.store.document(id).await?;
        let now = self.clock.now();
        let review = match &verdict {
            Verdict::Verify => {
                let lapses_at = match doc.kind {
                    DocumentKind::Qualification => None,
                    DocumentKind::Dbs => Some(self.lapse_of(&doc)?),
                };
                Review::Verify {
                    lapses_at,
                    reminders: lapses_at
                        .map(|at| dbs_reminders(at, now))
                        .unwrap_or_default(),
                }
            }
            Verdict::Reject(reason) => Review::Reject { reason },
        };
        let row = self
            .store
            .review_document(id, &review, &admin.user_id, now)
            .await?;
        // New reminder jobs: the scheduler looks at its queue again.
        self.notifier.wake();
        let change = match row.status {
            DocumentStatus::Rejected => DocumentChange::Rejected,
            _ => DocumentChange::Verified,
        };
        self.publish(&row, change);
        Ok(row)
    }

    /// When a DBS document stops counting, from its issue date.
    fn lapse_of(&self, doc: &DocumentRow) -> Result<chrono::DateTime<chrono::Utc>, DocumentError> {
        let issued = doc
            .issued_on
            .as_deref()
            .and_then(|d| d.parse::<NaiveDate>().ok())
            .ok_or_else(|| DocumentError::Invalid("this DBS has no issue date".into()))?;
        dbs_lapses_at(issued, self.config.dbs_valid_months)
            .ok_or_else(|| DocumentError::Invalid("the issue date is out of range".into()))
    }

    /// The bytes of a document's file, for its tutor and admins; every
    /// read of a DBS is logged. Anyone else (and a file that carries no
    /// document) gets the 404 a missing file gets.
    pub async fn download(
        &self,
        caller: &Caller,
        file: &FileRow,
    ) -> Result<actix_web::web::Bytes, DocumentError> {
        let doc = self
            .store
            .document_of_file(&file.id)
            .await?
            .ok_or(DocumentError::NotFound)?;
        if caller.role != Role::Admin && doc.tutor_id != caller.user_id {
            return Err(DocumentError::NotFound);
        }
        let bytes = self.uploads.open(file).await?;
        if doc.kind == DocumentKind::Dbs {
            self.store
                .log_document_access(
                    &doc.id,
                    &caller.user_id,
                    caller.role.as_str(),
                    self.clock.now(),
                )
                .await?;
        }
        Ok(bytes)
    }

    /// Scans quarantined files again and tells the admins of any infected.
    pub async fn rescan(&self) -> Result<(), UploadError> {
        for (file, signature) in self.uploads.rescan().await? {
            self.publish_infected(Some(&file.id), &file.owner_id, file.purpose, &signature);
            // The rejection is stored already; only the push is at stake.
            match self.store.document_of_file(&file.id).await {
                Ok(Some(doc)) => self.publish(&doc, DocumentChange::Rejected),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(file = %file.id, error = %e, "document:changed not pushed for an infected file")
                }
            }
        }
        Ok(())
    }

    fn publish(&self, row: &DocumentRow, change: DocumentChange) {
        let payload = DocumentChanged {
            document_id: row.id.clone(),
            tutor_id: row.tutor_id.clone(),
            tutor_name: row.tutor_name.clone(),
            kind: row.kind,
            status: row.status,
            change,
            reason: row.reason.clone(),
            lapses_at: row.lapses_at,
            at: self.clock.now(),
        };
        for topic in [
            Topic::Tutor(row.tutor_id.as_str().into()),
            Topic::AdminMonitor,
        ] {
            self.broker
                .publish(Push::new(topic, event::DOCUMENT_CHANGED, &payload));
        }
    }

    fn publish_infected(
        &self,
        file_id: Option<&str>,
        owner: &str,
        purpose: FilePurpose,
        signature: &str,
    ) {
        tracing::warn!(owner, signature, "the malware scan refused an upload");
        let payload = UploadInfected {
            file_id: file_id.map(str::to_owned),
            owner_id: owner.to_owned(),
            purpose,
            signature: signature.to_owned(),
            at: self.clock.now(),
        };
        self.broker.publish(Push::new(
            Topic::AdminMonitor,
            event::UPLOAD_INFECTED,
            &payload,
        ));
    }
}

/// The text fields an upload may carry.
const FIELDS: &[&str] = &[
    "kind",
    "certificate_number",
    "issued_on",
    "title",
    "institution",
    "year",
];

/// An admin's decision.
pub enum Verdict {
    Verify,
    Reject(String),
}

/// The fields a document's kind asks for, checked.
struct DocumentFields {
    certificate_number: Option<String>,
    issued_on: Option<NaiveDate>,
    title: Option<String>,
    institution: Option<String>,
    year: Option<i32>,
}

impl DocumentFields {
    fn read(kind: DocumentKind, form: &Form, today: NaiveDate) -> Result<Self, DocumentError> {
        let bad = |m: &str| DocumentError::Invalid(m.to_owned());
        let line = |name: &str, max: usize| -> Result<Option<String>, DocumentError> {
            match form.text(name) {
                None => Ok(None),
                Some(v) => cms_domain::text::check_plain_text(name, v, max)
                    .map(|v| Some(v.to_owned()))
                    .map_err(|e| DocumentError::Invalid(e.to_string())),
            }
        };
        match kind {
            DocumentKind::Dbs => {
                let number = form
                    .text("certificate_number")
                    .filter(|n| n.len() == 12 && n.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| bad("certificate_number is the DBS certificate's 12 digits"))?;
                let issued = form
                    .text("issued_on")
                    .and_then(|d| d.parse::<NaiveDate>().ok())
                    .ok_or_else(|| bad("issued_on is the certificate's issue date, YYYY-MM-DD"))?;
                if issued > today {
                    return Err(bad("issued_on is in the future"));
                }
                Ok(Self {
                    certificate_number: Some(number.to_owned()),
                    issued_on: Some(issued),
                    title: None,
                    institution: None,
                    year: None,
                })
            }
            DocumentKind::Qualification => {
                let title = line("title", 200)?.ok_or_else(|| bad("title is required"))?;
                let year = match form.text("year") {
                    None => None,
                    Some(y) => Some(
                        y.parse::<i32>()
                            .ok()
                            .filter(|y| (1950..=2100).contains(y))
                            .ok_or_else(|| bad("year is a year, e.g. 2019"))?,
                    ),
                };
                Ok(Self {
                    certificate_number: None,
                    issued_on: None,
                    title: Some(title),
                    institution: line("institution", 200)?,
                    year,
                })
            }
        }
    }
}
