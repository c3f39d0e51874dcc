//! Where upload bytes rest: encrypted, under the file's id, in an object
//! store (the local filesystem now; an S3-compatible bucket is a matter of
//! building a different `ObjectStore`).
//!
//! Each file is sealed with XChaCha20-Poly1305 under the platform's file
//! key and a fresh random nonce, with the file's id as associated data: a
//! ciphertext moved to another id, or altered by one bit, fails to open
//! rather than serving the wrong bytes. Stored: nonce ‖ ciphertext+tag.

use std::sync::Arc;

use actix_web::web::Bytes;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use cms_domain::ids::FileId;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Bytes of an XChaCha20 nonce, stored in front of each file.
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the file store failed: {0}")]
    Storage(#[from] object_store::Error),
    /// The stored bytes were altered, truncated, moved, or sealed under
    /// another key.
    #[error("a stored file failed its integrity check")]
    Integrity,
    #[error("the file key must be 64 hex digits (32 bytes)")]
    BadKey,
}

/// The platform's file key, parsed.
#[derive(Clone)]
pub struct FileKey(Key);

impl FileKey {
    /// From 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, VaultError> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(VaultError::BadKey);
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).map_err(|_| VaultError::BadKey)?;
        }
        Ok(Self(Key::from(key)))
    }

    /// A new random key as 64 hex digits (made once, then kept).
    pub fn generate_hex() -> String {
        XChaCha20Poly1305::generate_key(&mut OsRng)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Sealed files in an object store.
#[derive(Clone)]
pub struct Vault {
    objects: Arc<dyn ObjectStore>,
    cipher: XChaCha20Poly1305,
}

impl Vault {
    pub fn new(objects: Arc<dyn ObjectStore>, key: &FileKey) -> Self {
        Self {
            objects,
            cipher: XChaCha20Poly1305::new(&key.0),
        }
    }

    /// A vault on a local directory, made if missing.
    pub fn local(dir: &std::path::Path, key: &FileKey) -> Result<Self, VaultError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            VaultError::Storage(object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            })
        })?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self::new(Arc::new(fs), key))
    }

    fn path(id: &FileId) -> Path {
        // Ids are checked record keys (letters, digits, '-', '_'), so the
        // path is always one plain segment under `files/`.
        Path::from(format!("files/{id}"))
    }

    /// Seals `plain` and stores it under `id`.
    pub async fn put(&self, id: &FileId, plain: &[u8]) -> Result<(), VaultError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: id.as_str().as_bytes(),
                },
            )
            .map_err(|_| VaultError::Integrity)?;
        let mut stored = Vec::with_capacity(NONCE_LEN + sealed.len());
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        self.objects
            .put(&Self::path(id), PutPayload::from(stored))
            .await?;
        Ok(())
    }

    /// The plain bytes stored under `id`.
    pub async fn get(&self, id: &FileId) -> Result<Bytes, VaultError> {
        let stored = self.objects.get(&Self::path(id)).await?.bytes().await?;
        self.open(id, &stored).map(Bytes::from)
    }

    /// The stored (sealed) bytes, as they rest on disk: for tests and
    /// audits that check nothing readable is kept.
    pub async fn raw(&self, id: &FileId) -> Result<Bytes, VaultError> {
        Ok(self.objects.get(&Self::path(id)).await?.bytes().await?)
    }

    fn open(&self, id: &FileId, stored: &[u8]) -> Result<Vec<u8>, VaultError> {
        if stored.len() < NONCE_LEN {
            return Err(VaultError::Integrity);
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: id.as_str().as_bytes(),
                },
            )
            .map_err(|_| VaultError::Integrity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> (Vault, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = FileKey::from_hex(&FileKey::generate_hex()).expect("key");
        (Vault::local(dir.path(), &key).expect("vault"), dir)
    }

    #[tokio::test]
    async fn bytes_rest_sealed_and_come_back_whole() {
        let (vault, dir) = vault();
        let id: FileId = "f1".parse().expect("id");
        let plain = b"Enhanced DBS certificate 001234567890".to_vec();
        vault.put(&id, &plain).await.expect("put");
        assert_eq!(
            vault.get(&id).await.expect("get").as_ref(),
            plain.as_slice()
        );
        let on_disk = std::fs::read(dir.path().join("files").join("f1")).expect("on disk");
        assert!(
            !on_disk.windows(8).any(|w| w == b"Enhanced"),
            "plaintext on disk"
        );
    }

    #[tokio::test]
    async fn a_moved_or_altered_file_does_not_open() {
        let (vault, dir) = vault();
        let (a, b): (FileId, FileId) = ("a".parse().expect("id"), "b".parse().expect("id"));
        vault.put(&a, b"one").await.expect("put");
        let files = dir.path().join("files");
        std::fs::copy(files.join("a"), files.join("b")).expect("copy");
        assert!(matches!(vault.get(&b).await, Err(VaultError::Integrity)));
        let mut bytes = std::fs::read(files.join("a")).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(files.join("a"), bytes).expect("write");
        assert!(matches!(vault.get(&a).await, Err(VaultError::Integrity)));
    }

    #[test]
    fn a_key_is_64_hex_digits() {
        assert!(FileKey::from_hex(&"ab".repeat(32)).is_ok());
        assert!(matches!(FileKey::from_hex("abc"), Err(VaultError::BadKey)));
        assert!(matches!(
            FileKey::from_hex(&"zz".repeat(32)),
            Err(VaultError::BadKey)
        ));
    }
}
