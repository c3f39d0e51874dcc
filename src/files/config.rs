//! `[uploads]`: where files rest, how big they may be, and the optional
//! malware scanner; `[documents]`: what a tutor's DBS must be.

use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadsConfig {
    /// Directory of the encrypted files (made if missing). Unset: `uploads`
    /// beside a surrealkv database, or a fresh temporary directory for
    /// `mem://` (gone when the process ends, like the database).
    pub dir: Option<String>,
    /// 64 hex digits: the key every file is sealed with. Unset: made on
    /// first start and kept in the database, like the token secret.
    pub key: Option<String>,
    /// Largest file, in bytes.
    pub max_file_bytes: usize,
    /// Largest upload request in all (files and fields), in bytes.
    pub max_request_bytes: usize,
    /// Files per request.
    pub max_files: usize,
    /// clamd's `host:port`. Set: every file waits in quarantine until clamd
    /// says it is clean. Unset: files are served after the type checks
    /// (the log says scanning is off).
    pub clamd: Option<String>,
    /// Seconds to wait for clamd's verdict on one file.
    pub clamd_timeout_secs: u64,
    /// Seconds between retries of quarantined files while clamd is down.
    pub rescan_every_secs: u64,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        Self {
            dir: None,
            key: None,
            max_file_bytes: 10 * 1024 * 1024,
            max_request_bytes: 25 * 1024 * 1024,
            max_files: 5,
            clamd: None,
            clamd_timeout_secs: 30,
            rescan_every_secs: 60,
        }
    }
}

/// The key never reaches a log.
impl std::fmt::Debug for UploadsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadsConfig")
            .field("dir", &self.dir)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("max_file_bytes", &self.max_file_bytes)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_files", &self.max_files)
            .field("clamd", &self.clamd)
            .finish()
    }
}

/// `[documents]`: the rules about tutors' documents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DocumentsConfig {
    /// New tutors need a verified enhanced DBS to be booked.
    pub require_dbs: bool,
    /// Months a DBS counts from its issue date.
    pub dbs_valid_months: u32,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        Self {
            require_dbs: true,
            dbs_valid_months: 36,
        }
    }
}
