//! Payloads about tutors' documents and uploads (docs/documents.md).

use chrono::{DateTime, Utc};
use cms_domain::documents::{DocumentKind, DocumentStatus};
use cms_domain::files::FilePurpose;
use serde::{Deserialize, Serialize};

/// What happened to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentChange {
    Uploaded,
    Verified,
    Rejected,
}

/// `document:changed`, to the tutor (`tutor:<id>`) and the admins
/// (`admin:monitor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentChanged {
    pub document_id: String,
    pub tutor_id: String,
    pub tutor_name: String,
    pub kind: DocumentKind,
    pub status: DocumentStatus,
    pub change: DocumentChange,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A verified DBS counts until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lapses_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

/// `upload:infected`, to the admins: the scan refused a file (at upload,
/// or later once a scanner that was down came back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadInfected {
    /// Set when the file had been kept in quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    pub owner_id: String,
    pub purpose: FilePurpose,
    /// The signature clamd named.
    pub signature: String,
    pub at: DateTime<Utc>,
}
