//! The one upload service every feature uses (tutor documents now; homework
//! and submissions next). An upload is read under limits, its type sniffed
//! from its bytes against the allow-list, its name made safe, its bytes
//! sealed into the vault under a fresh id, and — when clamd is configured —
//! scanned before anyone can read it. Who may read a file is decided by
//! what it is attached to, by the feature that attached it.

pub mod config;
pub mod form;
pub mod scan;
pub mod sniff;
pub mod vault;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use cms_actors::Clock;
use cms_domain::files::{FilePurpose, FileType, ScanStatus, safe_name};
use cms_domain::ids::FileId;
use cms_store::documents::{FileRow, NewFile};
use cms_store::{Store, StoreError};
use sha2::{Digest, Sha256};

pub use config::{DocumentsConfig, UploadsConfig};
pub use form::{Form, FormError, FormLimits, Upload, read_form};
pub use scan::{Clamd, ScanError, Verdict};
pub use sniff::SniffError;
pub use vault::{FileKey, Vault, VaultError};

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Form(#[from] FormError),
    #[error(transparent)]
    Type(#[from] SniffError),
    /// The scanner found malware: nothing is kept.
    #[error("the file was refused by the malware scan")]
    Infected(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file is waiting for (or failed) its scan: not served.
    #[error("this file is waiting for its malware scan and cannot be downloaded yet")]
    NotScanned,
}

/// An upload that passed the checks and is sealed in the vault, ready to
/// be recorded with whatever it is attached to.
#[derive(Debug)]
pub struct Accepted {
    pub id: FileId,
    pub name: String,
    pub media_type: FileType,
    pub size: u64,
    pub sha256: String,
    pub scan: ScanStatus,
}

impl Accepted {
    pub fn as_new<'a>(&'a self, owner: &'a str, purpose: FilePurpose) -> NewFile<'a> {
        NewFile {
            id: self.id.as_str(),
            owner,
            purpose,
            name: &self.name,
            media_type: self.media_type,
            size: self.size,
            sha256: &self.sha256,
            scan: self.scan,
        }
    }
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Uploads {
    pub store: Store,
    pub vault: Vault,
    pub scanner: Option<Clamd>,
    pub limits: FormLimits,
    pub clock: Arc<dyn Clock>,
}

impl Uploads {
    /// Builds the service from `[uploads]`: the vault's directory and key
    /// (kept in the database when not configured).
    pub async fn from_config(
        cfg: &UploadsConfig,
        database_url: &str,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, UploadSetupError> {
        let hex = match &cfg.key {
            Some(k) => k.clone(),
            None => {
                store
                    .secret_setting("file_key", &FileKey::generate_hex())
                    .await?
            }
        };
        let key = FileKey::from_hex(&hex)?;
        let vault = vault_for(cfg, database_url, &key)?;
        let scanner = cfg.clamd.as_ref().map(|a| {
            Clamd::new(
                a.clone(),
                Duration::from_secs(cfg.clamd_timeout_secs.max(1)),
            )
        });
        match &scanner {
            Some(c) => tracing::info!(clamd = c.address(), "uploads are scanned for malware"),
            None => tracing::warn!(
                "malware scanning is off (uploads.clamd is not set): files are served after the type checks only"
            ),
        }
        Ok(Self {
            store,
            vault,
            scanner,
            limits: FormLimits {
                file_bytes: cfg.max_file_bytes,
                request_bytes: cfg.max_request_bytes,
                files: cfg.max_files,
            },
            clock,
        })
    }

    /// Checks an upload, seals it in the vault and scans it when a scanner
    /// is configured. Infected: refused, nothing kept. Scanner down: kept,
    /// quarantined, retried later.
    pub async fn accept(&self, upload: &Upload) -> Result<Accepted, UploadError> {
        let media_type = sniff::sniff(&upload.bytes)?;
        let scan = match &self.scanner {
            None => ScanStatus::Clean,
            Some(clamd) => match clamd.scan(&upload.bytes).await {
                Ok(Verdict::Clean) => ScanStatus::Clean,
                Ok(Verdict::Infected(signature)) => return Err(UploadError::Infected(signature)),
                Err(e) => {
                    tracing::warn!(error = %e, "the scanner is unavailable: the upload waits in quarantine");
                    ScanStatus::Quarantined
                }
            },
        };
        let id: FileId = cms_store::new_key()
            .parse()
            .map_err(|_| UploadError::Vault(VaultError::Integrity))?;
        self.vault.put(&id, &upload.bytes).await?;
        Ok(Accepted {
            name: safe_name(&upload.sent_name, media_type),
            media_type,
            size: upload.bytes.len() as u64,
            sha256: hex(&Sha256::digest(&upload.bytes)),
            scan,
            id,
        })
    }

    /// The bytes of a file the caller was allowed to see, if it is clean.
    pub async fn open(&self, file: &FileRow) -> Result<Bytes, UploadError> {
        if file.scan != ScanStatus::Clean {
            return Err(UploadError::NotScanned);
        }
        let id: FileId = file
            .id
            .parse()
            .map_err(|_| UploadError::Store(StoreError::NotFound))?;
        Ok(self.vault.get(&id).await?)
    }

    /// Scans the quarantined files again (after the scanner was down).
    /// Returns the files found infected, for the admin board.
    pub async fn rescan(&self) -> Result<Vec<(FileRow, String)>, UploadError> {
        let Some(clamd) = &self.scanner else {
            return Ok(Vec::new());
        };
        let mut infected = Vec::new();
        for file in self.store.quarantined_files(100).await? {
            let Ok(id) = file.id.parse::<FileId>() else {
                continue;
            };
            let bytes = self.vault.get(&id).await?;
            let now = self.clock.now();
            match clamd.scan(&bytes).await {
                Ok(Verdict::Clean) => {
                    self.store
                        .set_scan(&file.id, ScanStatus::Clean, None, now)
                        .await?;
                }
                Ok(Verdict::Infected(signature)) => {
                    self.store
                        .set_scan(&file.id, ScanStatus::Infected, Some(&signature), now)
                        .await?;
                    infected.push((file, signature));
                }
                // Still down: the rest would fail the same way.
                Err(e) => {
                    tracing::warn!(error = %e, "the scanner is still unavailable");
                    break;
                }
            }
        }
        Ok(infected)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadSetupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Where the vault lives: configured; beside a surrealkv database; in
/// memory for an in-memory database (gone with the process, like it);
/// else `uploads` in the working directory.
fn vault_for(cfg: &UploadsConfig, database_url: &str, key: &FileKey) -> Result<Vault, VaultError> {
    if cfg.dir.is_none() && (database_url.starts_with("mem://") || database_url == "memory") {
        return Ok(Vault::new(
            Arc::new(object_store::memory::InMemory::new()),
            key,
        ));
    }
    let dir: std::path::PathBuf = match (&cfg.dir, database_url.strip_prefix("surrealkv://")) {
        (Some(dir), _) => dir.into(),
        (None, Some(path)) => {
            let path = path.split('?').next().unwrap_or(path);
            let mut beside = std::path::PathBuf::from(path).into_os_string();
            beside.push("-uploads");
            beside.into()
        }
        (None, None) => "uploads".into(),
    };
    Vault::local(&dir, key)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
