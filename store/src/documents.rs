//! Uploaded files' records and tutors' documents. The bytes are elsewhere
//! (the server's vault); here is what is known about them, who may see
//! them, and the log of who read a DBS certificate.

use chrono::{DateTime, Utc};
use cms_domain::documents::{DocumentKind, DocumentStatus};
use cms_domain::files::{FilePurpose, FileType, ScanStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Store, StoreError, ts, without_nulls};

/// A stored upload as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileRow {
    pub id: String,
    pub owner_id: String,
    pub purpose: FilePurpose,
    /// The sanitised name offered on download.
    pub name: String,
    pub media_type: FileType,
    pub size: u64,
    /// A file is served only when `clean`.
    pub scan: ScanStatus,
    pub created_at: DateTime<Utc>,
}

/// A file about to be recorded (its bytes already in the vault).
pub struct NewFile<'a> {
    pub id: &'a str,
    pub owner: &'a str,
    pub purpose: FilePurpose,
    pub name: &'a str,
    pub media_type: FileType,
    pub size: u64,
    pub sha256: &'a str,
    pub scan: ScanStatus,
}

pub(crate) const FILE_FIELDS: &str = "record::id(id) AS id, record::id(owner) AS owner_id, purpose, name, \
     media_type, size, scan, created_at";

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentRow {
    pub id: String,
    pub tutor_id: String,
    pub tutor_name: String,
    pub kind: DocumentKind,
    pub status: DocumentStatus,
    pub file: FileRow,
    #[serde(default)]
    pub certificate_number: Option<String>,
    /// DBS: the certificate's issue date (YYYY-MM-DD).
    #[serde(default)]
    pub issued_on: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub institution: Option<String>,
    #[serde(default)]
    pub year: Option<i32>,
    /// A verified DBS counts until this instant.
    #[serde(default)]
    pub lapses_at: Option<DateTime<Utc>>,
    /// Why it was rejected.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What a tutor sends about a document.
pub struct NewDocument<'a> {
    pub id: &'a str,
    pub tutor: &'a str,
    pub kind: DocumentKind,
    pub certificate_number: Option<&'a str>,
    pub issued_on: Option<&'a str>,
    pub title: Option<&'a str>,
    pub institution: Option<&'a str>,
    pub year: Option<i32>,
}

/// An admin's decision on a pending document.
pub enum Review<'a> {
    /// A DBS carries when it lapses, and the reminders (days ahead, when)
    /// its tutor gets before; a qualification does neither.
    Verify {
        lapses_at: Option<DateTime<Utc>>,
        reminders: Vec<(u32, DateTime<Utc>)>,
    },
    Reject {
        reason: &'a str,
    },
}

/// One read of a DBS certificate.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccessRow {
    pub by: String,
    pub by_name: String,
    pub role: String,
    pub at: String,
}

/// A tutor's DBS as booking sees it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DbsRecord {
    /// The latest lapse among verified certificates still counting.
    pub valid_until: Option<DateTime<Utc>>,
    /// The newest certificate's status and lapse, whatever its status.
    pub newest: Option<(DocumentStatus, Option<DateTime<Utc>>)>,
}

fn document_fields() -> String {
    format!(
        "record::id(id) AS id, record::id(tutor) AS tutor_id, tutor.name AS tutor_name, kind, status,
         (SELECT {FILE_FIELDS} FROM ONLY $parent.file) AS file,
         certificate_number, issued_on, title, institution, year,
         lapses_at, reason, reviewed_at, created_at"
    )
}

impl Store {
    /// Records an uploaded file and the document it carries, together.
    pub async fn create_document(
        &self,
        file: &NewFile<'_>,
        doc: &NewDocument<'_>,
        now: DateTime<Utc>,
    ) -> Result<DocumentRow, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             CREATE type::record('file', $f.id) CONTENT {{
                 owner: type::record('user', $f.owner), purpose: $f.purpose, name: $f.name,
                 media_type: $f.media_type, size: $f.size, sha256: $f.sha256, scan: $f.scan,
                 scanned_at: IF $f.scan = 'quarantined' THEN NONE ELSE <datetime>$now END,
                 created_at: <datetime>$now
             }} RETURN NONE;
             CREATE type::record('document', $d.id) CONTENT {{
                 tutor: type::record('user', $d.tutor), kind: $d.kind, status: 'pending',
                 file: type::record('file', $f.id),
                 certificate_number: $d.certificate_number, issued_on: $d.issued_on,
                 title: $d.title, institution: $d.institution, year: $d.year,
                 created_at: <datetime>$now
             }} RETURN NONE;
             SELECT {} FROM ONLY type::record('document', $d.id);
             COMMIT TRANSACTION;",
            document_fields()
        );
        let vars = without_nulls(json!({
            "f": {
                "id": file.id, "owner": file.owner, "purpose": file.purpose, "name": file.name,
                "media_type": file.media_type, "size": file.size, "sha256": file.sha256,
                "scan": file.scan,
            },
            "d": {
                "id": doc.id, "tutor": doc.tutor, "kind": doc.kind,
                "certificate_number": doc.certificate_number, "issued_on": doc.issued_on,
                "title": doc.title, "institution": doc.institution, "year": doc.year,
            },
            "now": ts(now),
        }));
        self.row(&sql, vars, 3).await
    }

    pub async fn document(&self, id: &str) -> Result<DocumentRow, StoreError> {
        let sql = format!(
            "SELECT {} FROM ONLY type::record('document', $id)",
            document_fields()
        );
        match self
            .row::<Option<DocumentRow>>(&sql, json!({ "id": id }), 0)
            .await
        {
            Ok(Some(row)) => Ok(row),
            Ok(None) | Err(StoreError::NotFound) => Err(StoreError::NotFound),
            Err(e) => Err(e),
        }
    }

    /// A tutor's documents, newest first.
    pub async fn documents_of(&self, tutor: &str) -> Result<Vec<DocumentRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM document WHERE tutor = type::record('user', $tutor)
             ORDER BY created_at DESC",
            document_fields()
        );
        self.rows(&sql, json!({ "tutor": tutor }), 0).await
    }

    /// Documents for admins, oldest first (a queue), optionally by status.
    pub async fn documents(
        &self,
        status: Option<DocumentStatus>,
        limit: usize,
    ) -> Result<Vec<DocumentRow>, StoreError> {
        let filter = if status.is_some() {
            "WHERE status = $status"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {} FROM document {filter} ORDER BY created_at LIMIT $limit",
            document_fields()
        );
        self.rows(&sql, json!({ "status": status, "limit": limit }), 0)
            .await
    }

    /// Verifies or rejects a pending document. A document already decided
    /// is refused (`Refusal::Other`), so two admins cannot both decide.
    pub async fn review_document(
        &self,
        id: &str,
        review: &Review<'_>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<DocumentRow, StoreError> {
        let (status, lapses_at, reason, jobs) = match review {
            Review::Verify {
                lapses_at,
                reminders,
            } => {
                // Keyed by document and lead: verifying makes them once.
                let jobs: Vec<_> = reminders
                    .iter()
                    .map(|(days, due)| {
                        json!({ "key": format!("{id}.dbs{days}"), "offset_min": days * 1440, "due_at": ts(*due) })
                    })
                    .collect();
                (DocumentStatus::Verified, lapses_at.map(ts), None, jobs)
            }
            Review::Reject { reason } => {
                (DocumentStatus::Rejected, None, Some(*reason), Vec::new())
            }
        };
        // A missing document is a 404, not a refusal.
        self.document(id).await?;
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $d = type::record('document', $id);
             IF (SELECT VALUE status FROM ONLY $d) != 'pending' {{
                 THROW 'conflict: this document has already been reviewed';
             }};
             UPDATE $d SET status = $status, reason = $reason,
                 lapses_at = IF $lapses_at THEN <datetime>$lapses_at ELSE NONE END,
                 reviewed_by = type::record('user', $by), reviewed_at = <datetime>$now
                 RETURN NONE;
             FOR $j IN $jobs {{
                 CREATE type::record('notify_job', $j.key) CONTENT {{
                     kind: 'dbs_expiry', document: $d, lessons: [], families: [],
                     offset_min: $j.offset_min, due_at: <datetime>$j.due_at,
                     scheduled_at: <datetime>$j.due_at, status: 'pending', created_at: <datetime>$now
                 }} RETURN NONE;
             }};
             SELECT {} FROM ONLY $d;
             COMMIT TRANSACTION;",
            document_fields()
        );
        let vars = json!({
            "id": id, "status": status, "lapses_at": lapses_at, "reason": reason,
            "by": by, "jobs": jobs, "now": ts(now),
        });
        self.row(&sql, vars, 5).await
    }

    /// What booking needs to know about a tutor's DBS.
    pub async fn dbs_record(
        &self,
        tutor: &str,
        now: DateTime<Utc>,
    ) -> Result<DbsRecord, StoreError> {
        let sql = "LET $t = type::record('user', $tutor);
             RETURN {
                 valid_until: (SELECT VALUE lapses_at FROM document
                     WHERE tutor = $t AND kind = 'dbs' AND status = 'verified'
                       AND lapses_at > <datetime>$now ORDER BY lapses_at DESC LIMIT 1)[0],
                 newest: (SELECT VALUE [status, lapses_at] FROM document
                     WHERE tutor = $t AND kind = 'dbs' ORDER BY created_at DESC LIMIT 1)[0]
             };";
        self.row(sql, json!({ "tutor": tutor, "now": ts(now) }), 1)
            .await
    }

    /// Logs one read of a document's file.
    pub async fn log_document_access(
        &self,
        document: &str,
        by: &str,
        role: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Keyed in time order, so reads at one instant keep their order.
        let sql = "CREATE type::record('document_access', $key) CONTENT {
                 document: type::record('document', $document), by: type::record('user', $by),
                 role: $role, at: <datetime>$now
             } RETURN NONE";
        let vars = json!({
            "key": super::new_key(), "document": document, "by": by, "role": role, "now": ts(now),
        });
        self.value(sql, vars, 0).await.map(|_| ())
    }

    /// Who read a document, oldest first.
    pub async fn document_accesses(&self, document: &str) -> Result<Vec<AccessRow>, StoreError> {
        let sql = "SELECT record::id(by) AS by, by.name AS by_name, role, <string>at AS at
             FROM document_access WHERE document = type::record('document', $document)
             ORDER BY at, id";
        self.rows(sql, json!({ "document": document }), 0).await
    }

    pub async fn file(&self, id: &str) -> Result<FileRow, StoreError> {
        let sql = format!("SELECT {FILE_FIELDS} FROM ONLY type::record('file', $id)");
        match self
            .row::<Option<FileRow>>(&sql, json!({ "id": id }), 0)
            .await
        {
            Ok(Some(row)) => Ok(row),
            Ok(None) | Err(StoreError::NotFound) => Err(StoreError::NotFound),
            Err(e) => Err(e),
        }
    }

    /// The document a file carries, if it carries one.
    pub async fn document_of_file(&self, file: &str) -> Result<Option<DocumentRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM document WHERE file = type::record('file', $file) LIMIT 1",
            document_fields()
        );
        Ok(self
            .rows(&sql, json!({ "file": file }), 0)
            .await?
            .into_iter()
            .next())
    }

    /// Quarantined files, oldest first: the scanner's queue.
    pub async fn quarantined_files(&self, limit: usize) -> Result<Vec<FileRow>, StoreError> {
        let sql = format!(
            "SELECT {FILE_FIELDS} FROM file WHERE scan = 'quarantined' ORDER BY created_at LIMIT $limit"
        );
        self.rows(&sql, json!({ "limit": limit }), 0).await
    }

    /// Records a scan's outcome. An infected file's document (if any) is
    /// rejected in the same transaction, so it never counts.
    pub async fn set_scan(
        &self,
        file: &str,
        scan: ScanStatus,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = "BEGIN TRANSACTION;
             LET $f = type::record('file', $file);
             UPDATE $f SET scan = $scan, scan_note = $note, scan_tries += 1,
                 scanned_at = IF $scan = 'quarantined' THEN scanned_at ELSE <datetime>$now END
                 RETURN NONE;
             IF $scan = 'infected' {
                 UPDATE document SET status = 'rejected', reason = 'the file failed the malware scan',
                     reviewed_at = <datetime>$now
                     WHERE file = $f AND status = 'pending' RETURN NONE;
             };
             COMMIT TRANSACTION;";
        self.value(
            sql,
            json!({ "file": file, "scan": scan, "note": note, "now": ts(now) }),
            0,
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatabaseConfig;

    async fn store() -> Store {
        let cfg = DatabaseConfig {
            url: "mem://".into(),
            ..DatabaseConfig::default()
        };
        let store = Store::open(&cfg).await.expect("store");
        store
            .value(
                "CREATE user:t1 SET name = 'Tess', email = 't1@example.org', role = 'tutor',
                     password_hash = '$argon2id$x', timezone = 'Europe/London',
                     created_at = time::now();",
                json!({}),
                0,
            )
            .await
            .expect("tutor");
        store
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn file(id: &str) -> NewFile<'_> {
        NewFile {
            id,
            owner: "t1",
            purpose: FilePurpose::Document,
            name: "dbs.pdf",
            media_type: FileType::Pdf,
            size: 10,
            sha256: "00",
            scan: ScanStatus::Clean,
        }
    }

    fn dbs<'a>(id: &'a str, issued_on: &'a str) -> NewDocument<'a> {
        NewDocument {
            id,
            tutor: "t1",
            kind: DocumentKind::Dbs,
            certificate_number: Some("001234567890"),
            issued_on: Some(issued_on),
            title: None,
            institution: None,
            year: None,
        }
    }

    /// A valid DBS counts while verified and unlapsed; a pending renewal
    /// does not hide it; the newest certificate says why when none counts.
    #[tokio::test]
    async fn the_dbs_record_reads_validity_and_the_newest_certificate() {
        let store = store().await;
        let now = at("2026-12-04T09:00:00Z");
        let none = store.dbs_record("t1", now).await.expect("record");
        assert_eq!((none.valid_until, none.newest), (None, None));

        let row = store
            .create_document(&file("f1"), &dbs("d1", "2024-01-10"), now)
            .await
            .expect("create");
        assert_eq!(
            (row.status, row.file.name.as_str()),
            (DocumentStatus::Pending, "dbs.pdf")
        );
        let pending = store.dbs_record("t1", now).await.expect("record");
        assert_eq!(pending.newest, Some((DocumentStatus::Pending, None)));

        let lapses = at("2027-01-10T00:00:00Z");
        let verify = Review::Verify {
            lapses_at: Some(lapses),
            reminders: cms_domain::documents::dbs_reminders(lapses, now),
        };
        let row = store
            .review_document("d1", &verify, "t1", now)
            .await
            .expect("verify");
        assert_eq!(row.lapses_at, Some(lapses));
        let again = store.review_document("d1", &verify, "t1", now).await;
        assert!(matches!(again, Err(StoreError::Refused(_))), "{again:?}");

        store
            .create_document(&file("f2"), &dbs("d2", "2026-12-01"), now)
            .await
            .expect("renewal");
        let both = store.dbs_record("t1", now).await.expect("record");
        assert_eq!(both.valid_until, Some(lapses));
        assert_eq!(both.newest, Some((DocumentStatus::Pending, None)));
        let later = store.dbs_record("t1", lapses).await.expect("record");
        assert_eq!(later.valid_until, None);

        // Reads at one instant keep the order they happened in.
        for role in ["tutor", "admin", "tutor"] {
            store
                .log_document_access("d1", "t1", role, now)
                .await
                .expect("logged");
        }
        let log = store.document_accesses("d1").await.expect("log");
        let roles: Vec<_> = log.iter().map(|a| a.role.as_str()).collect();
        assert_eq!(roles, ["tutor", "admin", "tutor"]);
    }
}
