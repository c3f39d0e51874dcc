//! What an upload may be. The type comes from the bytes (sniffed by the
//! server), never from the name or the declared type; the name is kept only
//! to show and to offer on download, made safe here, and never used as a
//! path.

use crate::vocab::vocab;

vocab! {
    /// The allow-list. Spelled as the media type a download is served with.
    pub enum FileType {
        Pdf = "application/pdf",
        Png = "image/png",
        Jpeg = "image/jpeg",
        Webp = "image/webp",
        Docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Text = "text/plain",
    }
}

impl FileType {
    /// The extension a download's name ends with.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Docx => "docx",
            Self::Text => "txt",
        }
    }
}

vocab! {
    /// What an upload is for; who may read it follows from what it is
    /// attached to.
    pub enum FilePurpose {
        /// A tutor's DBS certificate or qualification.
        Document = "document",
        /// A worksheet a tutor attached to homework.
        Homework = "homework",
        /// A family's handed-in work.
        Submission = "submission",
    }
}

vocab! {
    /// A file is served only when `clean`.
    pub enum ScanStatus {
        /// Waiting for the scanner (or for it to come back).
        Quarantined = "quarantined",
        /// Scanned clean, or scanning is off and the type checks passed.
        Clean = "clean",
        /// The scanner found something: never served.
        Infected = "infected",
    }
}

/// Longest name kept, in characters (before the extension is settled).
pub const MAX_NAME_CHARS: usize = 120;

/// A display name made from what the client sent: the last path segment
/// only, control and separator characters and leading dots dropped,
/// whitespace collapsed, at most [`MAX_NAME_CHARS`], and ending in the
/// sniffed type's extension (so `invoice.pdf.exe` holding a PNG is offered
/// as `invoice.pdf.exe.png`, never as something the client would run).
pub fn safe_name(sent: &str, kind: FileType) -> String {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut kept = String::new();
    for c in last.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        let bad = c.is_control()
            || matches!(c, '"' | '<' | '>' | ':' | '|' | '?' | '*' | ';')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c);
        if bad || (c == ' ' && kept.ends_with(' ')) {
            continue;
        }
        kept.push(c);
    }
    let trimmed = kept.trim().trim_start_matches('.').trim();
    let mut name: String = trimmed.chars().take(MAX_NAME_CHARS).collect();
    if name.is_empty() {
        name.push_str("file");
    }
    let ext = kind.extension();
    let has_ext = name.rsplit_once('.').is_some_and(|(_, e)| {
        e.eq_ignore_ascii_case(ext) || (ext == "jpg" && e.eq_ignore_ascii_case("jpeg"))
    });
    if !has_ext {
        name.push('.');
        name.push_str(ext);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_its_last_segment_without_tricks() {
        assert_eq!(safe_name("../../etc/passwd", FileType::Text), "passwd.txt");
        assert_eq!(
            safe_name("..\\..\\boot.ini", FileType::Text),
            "boot.ini.txt"
        );
        assert_eq!(safe_name("..", FileType::Pdf), "file.pdf");
        assert_eq!(safe_name("", FileType::Png), "file.png");
        assert_eq!(safe_name(".bashrc", FileType::Text), "bashrc.txt");
        assert_eq!(
            safe_name("report\u{202e}fdp.exe", FileType::Pdf),
            "reportfdp.exe.pdf"
        );
        assert_eq!(safe_name("a\r\nb\t  c.pdf", FileType::Pdf), "a b c.pdf");
        assert_eq!(safe_name("photo.JPEG", FileType::Jpeg), "photo.JPEG");
        assert_eq!(
            safe_name("x\"; filename=y.pdf", FileType::Pdf),
            "x filename=y.pdf"
        );
        let long = "n".repeat(500);
        assert_eq!(
            safe_name(&long, FileType::Pdf).chars().count(),
            MAX_NAME_CHARS + 4
        );
    }
}
