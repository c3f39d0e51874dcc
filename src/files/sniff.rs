//! Deciding what an upload is from its bytes alone. The client's name and
//! declared type are not asked: a page of HTML named `cv.pdf` is HTML, and
//! HTML is not on the allow-list (served back, it would run in the
//! platform's origin).

use cms_domain::files::FileType;

/// Why the bytes are not an allowed file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SniffError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "files of this type ({0}) are not accepted; send a PDF, PNG, JPEG, WebP, Word (.docx) or plain-text file"
    )]
    NotAllowed(String),
    #[error(
        "this looks like a web page or markup, which is not accepted; send a PDF, PNG, JPEG, WebP, Word (.docx) or plain-text file"
    )]
    Markup,
    #[error(
        "the file's type could not be recognised; send a PDF, PNG, JPEG, WebP, Word (.docx) or plain-text file"
    )]
    Unknown,
}

/// The type of `bytes`, if it is on the allow-list.
pub fn sniff(bytes: &[u8]) -> Result<FileType, SniffError> {
    if bytes.is_empty() {
        return Err(SniffError::Empty);
    }
    if let Some(found) = infer::get(bytes) {
        return match found.mime_type() {
            "application/pdf" => Ok(FileType::Pdf),
            "image/png" => Ok(FileType::Png),
            "image/jpeg" => Ok(FileType::Jpeg),
            "image/webp" => Ok(FileType::Webp),
            m if m == FileType::Docx.as_str() => Ok(FileType::Docx),
            "text/html" | "text/xml" | "image/svg+xml" => Err(SniffError::Markup),
            other => Err(SniffError::NotAllowed(other.to_owned())),
        };
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if looks_like_markup(text) => Err(SniffError::Markup),
        Ok(text) if is_plain(text) => Ok(FileType::Text),
        _ => Err(SniffError::Unknown),
    }
}

/// Text with no control characters but the usual white space.
fn is_plain(text: &str) -> bool {
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
}

/// What a browser would treat as a document rather than text: it starts
/// with a tag, or holds one of the tags that run code anywhere.
fn looks_like_markup(text: &str) -> bool {
    let head = text.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with('<') {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    [
        "<script", "<html", "<iframe", "<svg", "<object", "<embed", "<body", "<meta",
    ]
    .iter()
    .any(|tag| lower.contains(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_decide_the_type() {
        assert_eq!(
            sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
            Ok(FileType::Pdf)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0"),
            Ok(FileType::Png)
        );
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF\0"), Ok(FileType::Jpeg));
        assert_eq!(
            sniff(b"Dear tutor,\nhere is my essay.\n"),
            Ok(FileType::Text)
        );
        assert_eq!(
            sniff(b"<!DOCTYPE html><html><script>alert(1)</script>"),
            Err(SniffError::Markup)
        );
        assert_eq!(sniff(b"  <svg onload=alert(1)>"), Err(SniffError::Markup));
        assert_eq!(sniff(b"notes\n<script>x</script>"), Err(SniffError::Markup));
        assert_eq!(
            sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0"),
            Err(SniffError::NotAllowed(
                "application/vnd.microsoft.portable-executable".into()
            ))
        );
        assert_eq!(sniff(b"\0\x01\x02binary"), Err(SniffError::Unknown));
        assert_eq!(sniff(b""), Err(SniffError::Empty));
    }
}
