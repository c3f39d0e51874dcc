//! Outgoing email: builds a MIME message (text + HTML, optional iCalendar
//! invite) with lettre and hands it to a pooled SMTP transport, or writes it
//! to an outbox directory when no SMTP server is configured.
//!
//! Names and subjects come from what people typed; each header value is
//! cleaned to one line before lettre sees it, and a message lettre still
//! cannot build fails on its own (`EmailError::Invalid`), never by panic.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lettre::address::AddressError;
use lettre::message::header::{ContentType, ContentTypeErr};
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

use crate::config::EmailConfig;

/// Longest accepted message id: it also names the outbox file, and file
/// names are limited to 255 bytes on common file systems.
const MAX_MESSAGE_ID_LEN: usize = 200;

/// An iCalendar attachment: METHOD:REQUEST for a booking, CANCEL for a
/// cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsAttachment {
    /// The iTIP method, `"REQUEST"` or `"CANCEL"`; must match the body's
    /// `METHOD:` line.
    pub method: String,
    /// The full VCALENDAR text.
    pub body: String,
}

/// One message to one or more recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// `(display name, address)`; an empty name sends the bare address.
    pub to: Vec<(String, String)>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub ics: Option<IcsAttachment>,
    /// Deterministic per delivery (e.g. "delivery-abc@cms-education"), set
    /// as the Message-ID header (with angle brackets) so a resend after a
    /// crash carries the same id and the outbox file name is stable.
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The URL itself is not shown: it may hold credentials.
    #[error("invalid email.smtp_url")]
    SmtpUrl(#[source] lettre::transport::smtp::Error),
    #[error("invalid email.from {from:?}")]
    From {
        from: String,
        #[source]
        source: AddressError,
    },
    #[error("cannot start the SMTP worker thread")]
    Worker(#[source] std::io::Error),
    #[error("the SMTP worker has stopped")]
    WorkerGone,
    #[error("invalid recipient address {address:?}")]
    Address {
        address: String,
        #[source]
        source: AddressError,
    },
    #[error("invalid message: {reason}")]
    Invalid { reason: String },
    #[error("invalid iCalendar method {method:?}")]
    IcsMethod {
        method: String,
        #[source]
        source: Option<ContentTypeErr>,
    },
    #[error("cannot build the message")]
    Build(#[source] lettre::error::Error),
    #[error("SMTP delivery failed")]
    Smtp(#[source] lettre::transport::smtp::Error),
    #[error("cannot write {} to the outbox", path.display())]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl EmailError {
    /// True when retrying cannot help: bad address, permanent 5xx SMTP
    /// reply, bad message (and bad configuration, which needs a restart).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::SmtpUrl(_)
            | Self::From { .. }
            | Self::Worker(_)
            | Self::Address { .. }
            | Self::Invalid { .. }
            | Self::IcsMethod { .. }
            | Self::Build(_) => true,
            // Connection refused, timeouts, TLS and 4xx replies may pass.
            Self::Smtp(e) => e.is_permanent(),
            Self::Outbox { .. } | Self::WorkerGone => false,
        }
    }
}

impl EmailError {
    /// True when the message itself could not be made (rather than sent):
    /// a bug or stored text nobody cleaned, worth an error in the log.
    pub fn is_unrenderable(&self) -> bool {
        matches!(
            self,
            Self::Invalid { .. } | Self::IcsMethod { .. } | Self::Build(_)
        )
    }
}

/// Sends [`Email`]s. Cheap to clone: clones share the SMTP pool.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    Smtp {
        worker: mpsc::UnboundedSender<SmtpJob>,
        /// `host:port`, without credentials, for [`Mailer::describe`].
        endpoint: String,
    },
    Outbox {
        dir: PathBuf,
    },
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("transport", &self.describe())
            .finish()
    }
}

impl Mailer {
    /// With `smtp_url` set, starts the SMTP worker thread that owns the
    /// connection pool.
    pub fn from_config(cfg: &EmailConfig) -> Result<Self, EmailError> {
        let from = cfg
            .from
            .parse::<Mailbox>()
            .map_err(|source| EmailError::From {
                from: cfg.from.clone(),
                source,
            })?;
        let transport = match cfg.smtp_url.as_deref() {
            Some(url) => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(EmailError::SmtpUrl)?
                    .pool_config(PoolConfig::new().max_size(cfg.pool_max))
                    .timeout(Some(Duration::from_secs(cfg.timeout_secs)));
                let worker = smtp_worker(builder)?;
                Transport::Smtp {
                    worker,
                    endpoint: smtp_endpoint(url),
                }
            }
            None => Transport::Outbox {
                dir: PathBuf::from(&cfg.outbox_dir),
            },
        };
        Ok(Self { from, transport })
    }

    /// Where mail goes, for the startup log: "smtp host:port" or
    /// "outbox <dir>". Never includes credentials.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp { endpoint, .. } => format!("smtp {endpoint}"),
            Transport::Outbox { dir } => format!("outbox {}", dir.display()),
        }
    }

    /// Sends one message. Everything about the message is checked before
    /// any IO, so a bad address or id fails without touching the network.
    pub async fn send(&self, email: &Email) -> Result<(), EmailError> {
        let message = self.build_caught(email)?;
        match &self.transport {
            Transport::Smtp { worker, .. } => {
                let (reply, answer) = oneshot::channel();
                worker
                    .send((message, reply))
                    .map_err(|_| EmailError::WorkerGone)?;
                answer
                    .await
                    .map_err(|_| EmailError::WorkerGone)?
                    .map_err(EmailError::Smtp)?;
            }
            Transport::Outbox { dir } => {
                write_outbox(dir, &email.message_id, &message.formatted()).await?;
            }
        }
        tracing::debug!(message_id = %email.message_id, via = %self.describe(), "email sent");
        Ok(())
    }

    /// [`Self::build`], with a panic inside the MIME library turned into
    /// this message's own failure. Names are cleaned first, so this is a
    /// second line: one message nobody can encode must fail alone, never
    /// the scheduler that sends everyone's mail.
    fn build_caught(&self, email: &Email) -> Result<Message, EmailError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.build(email))).unwrap_or_else(
            |panic| {
                Err(invalid(format!(
                    "the message could not be encoded: {}",
                    crate::telemetry::panic_text(panic.as_ref())
                )))
            },
        )
    }

    fn build(&self, email: &Email) -> Result<Message, EmailError> {
        check_message_id(&email.message_id)?;
        if email.to.is_empty() {
            return Err(invalid("no recipients"));
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(header_text(&email.subject, MAX_SUBJECT_CHARS))
            .message_id(Some(format!("<{}>", email.message_id)))
            .date_now();
        for (name, address) in &email.to {
            builder = builder.to(mailbox(name, address)?);
        }
        let alternative = MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
        let message = match &email.ics {
            None => builder.multipart(alternative),
            Some(ics) => {
                let (content_type, file_name) = ics_content_type(&ics.method)?;
                let attachment =
                    Attachment::new(file_name.to_owned()).body(ics.body.clone(), content_type);
                builder.multipart(
                    MultiPart::mixed()
                        .multipart(alternative)
                        .singlepart(attachment),
                )
            }
        };
        message.map_err(EmailError::Build)
    }
}

/// A message for the SMTP worker and where to send its outcome.
type SmtpJob = (
    Message,
    oneshot::Sender<Result<(), lettre::transport::smtp::Error>>,
);

/// Longest the worker waits for sends in flight when the mailer goes away.
const DRAIN: Duration = Duration::from_secs(30);

/// The pooled SMTP transport lives on a thread of its own with its own
/// runtime. lettre's pool spawns a task whenever a connection is dropped;
/// kept on the server's runtime, a send still in flight when that runtime
/// shuts down would be dropped outside any runtime and panic. Here every
/// connection is dropped inside this runtime, after the channel closes and
/// the sends in flight finish.
fn smtp_worker(
    builder: lettre::transport::smtp::AsyncSmtpTransportBuilder,
) -> Result<mpsc::UnboundedSender<SmtpJob>, EmailError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<SmtpJob>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(EmailError::Worker)?;
    std::thread::Builder::new()
        .name("smtp".into())
        .spawn(move || {
            runtime.block_on(async move {
                let transport = builder.build();
                let mut in_flight = tokio::task::JoinSet::new();
                loop {
                    tokio::select! {
                        job = rx.recv() => match job {
                            Some((message, reply)) => {
                                let t = transport.clone();
                                in_flight.spawn(async move {
                                    let _ = reply.send(t.send(message).await.map(|_| ()));
                                });
                            }
                            None => break,
                        },
                        Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                    }
                }
                let drain = async { while in_flight.join_next().await.is_some() {} };
                let _ = tokio::time::timeout(DRAIN, drain).await;
                in_flight.shutdown().await;
                drop(transport);
                // Let the pool's own tasks see it is gone.
                tokio::task::yield_now().await;
            });
        })
        .map_err(EmailError::Worker)?;
    Ok(tx)
}

/// Longest display name and subject written into a header, in characters.
const MAX_NAME_CHARS: usize = 100;
const MAX_SUBJECT_CHARS: usize = 200;

/// A recipient built from its parts: the address parsed alone, the name
/// cleaned to one line and left for lettre to quote or encode (RFC 2047).
/// Never a `"Name <addr>"` string parsed back: a name could then add a
/// second address or a header.
fn mailbox(name: &str, address: &str) -> Result<Mailbox, EmailError> {
    let addr = address
        .parse::<Address>()
        .map_err(|source| EmailError::Address {
            address: address.to_owned(),
            source,
        })?;
    let name = header_text(name, MAX_NAME_CHARS);
    Ok(Mailbox::new((!name.is_empty()).then_some(name), addr))
}

/// Text for a header value: no CR, LF or other control character can
/// reach it (each becomes a space), so it cannot end the header early or
/// start another.
fn header_text(s: &str, max_chars: usize) -> String {
    crate::notify::text::one_line(s, max_chars)
}

fn invalid(reason: impl Into<String>) -> EmailError {
    EmailError::Invalid {
        reason: reason.into(),
    }
}

/// The id goes between angle brackets in a header and names a file, so it
/// must be short, printable ASCII, with no spaces or brackets.
fn check_message_id(id: &str) -> Result<(), EmailError> {
    if id.is_empty() || id.len() > MAX_MESSAGE_ID_LEN {
        return Err(invalid(format!(
            "message id must be 1 to {MAX_MESSAGE_ID_LEN} characters"
        )));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    {
        return Err(invalid(format!(
            "message id {id:?} is not printable ASCII without <>"
        )));
    }
    Ok(())
}

/// `text/calendar; charset=UTF-8; method=…` and the attachment's file name.
/// Outlook and Gmail only offer accept/decline (or remove the event) when
/// the `method` parameter is on the part.
fn ics_content_type(method: &str) -> Result<(ContentType, &'static str), EmailError> {
    let method_error = |source| EmailError::IcsMethod {
        method: method.to_owned(),
        source,
    };
    // iTIP methods are bare tokens (REQUEST, CANCEL, …).
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(method_error(None));
    }
    let method = method.to_ascii_uppercase();
    let content_type =
        ContentType::parse(&format!("text/calendar; charset=UTF-8; method={method}"))
            .map_err(|e| method_error(Some(e)))?;
    let file_name = if method == "CANCEL" {
        "cancel.ics"
    } else {
        "invite.ics"
    };
    Ok((content_type, file_name))
}

/// `host:port` from an SMTP URL, dropping any `user:pass@` and query, and
/// filling in the port lettre would default to.
fn smtp_endpoint(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("smtp", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = host_port
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    if has_port {
        return host_port.to_owned();
    }
    let port = if scheme.eq_ignore_ascii_case("smtps") {
        465
    } else if rest[authority_end..].contains("tls=") {
        587
    } else {
        25
    };
    format!("{host_port}:{port}")
}

/// The outbox file name for a message id: anything outside a safe set
/// becomes `_`, and a leading dot too, so no id can escape the directory
/// or hide the file.
fn outbox_file_name(message_id: &str) -> String {
    let mut name: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+' | '=') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with('.') {
        name.replace_range(..1, "_");
    }
    name.push_str(".eml");
    name
}

/// Writes to a temporary file in `dir` and renames it over the final name:
/// a reader never sees half a message and a resend replaces the same file.
async fn write_outbox(dir: &Path, message_id: &str, bytes: &[u8]) -> Result<(), EmailError> {
    static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

    let path = dir.join(outbox_file_name(message_id));
    let outbox_error = |source| EmailError::Outbox {
        path: path.clone(),
        source,
    };
    tokio::fs::create_dir_all(dir).await.map_err(outbox_error)?;
    // Unique per writer, so two concurrent sends of one id do not share it;
    // the leading dot and suffix keep it out of `*.eml` listings.
    let temp = dir.join(format!(
        ".{}.{}-{}.tmp",
        outbox_file_name(message_id),
        std::process::id(),
        TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = async {
        let mut file = tokio::fs::File::create(&temp).await?;
        file.write_all(bytes).await?;
        // On disk before the rename makes it visible.
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&temp, &path).await
    }
    .await;
    if let Err(source) = written {
        // Best effort: a leftover temp file is harmless to readers.
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(outbox_error(source));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_drops_credentials_and_fills_default_ports() {
        assert_eq!(
            smtp_endpoint("smtps://user:p%40ss@mail.example.org"),
            "mail.example.org:465"
        );
        assert_eq!(
            smtp_endpoint("smtp://user:pass@mail.example.org:2587?tls=required"),
            "mail.example.org:2587"
        );
        assert_eq!(
            smtp_endpoint("smtp://u:p@mail.example.org?tls=required"),
            "mail.example.org:587"
        );
        assert_eq!(smtp_endpoint("smtp://127.0.0.1:2525"), "127.0.0.1:2525");
        assert_eq!(smtp_endpoint("smtp://[::1]"), "[::1]:25");
    }

    #[test]
    fn outbox_names_stay_inside_the_directory() {
        assert_eq!(
            outbox_file_name("delivery-abc@cms-education"),
            "delivery-abc@cms-education.eml"
        );
        assert_eq!(outbox_file_name("../../etc/passwd"), "_._.._etc_passwd.eml");
        assert_eq!(outbox_file_name(".hidden"), "_hidden.eml");
    }

    /// Names as people typed them before entry refused control characters.
    const HOSTILE: &[&str] = &[
        "A\r\nB",
        "A\nBcc: victim@example.org",
        "A\rB",
        "A\0B",
        "A\u{2028}B",
        "\"Quoted\" <x@y>, O'Brien; Jo",
        "Zoë ß 中文 \u{202E}evil",
    ];

    fn email(name: &str) -> Email {
        Email {
            to: vec![(name.to_owned(), "parent@example.org".to_owned())],
            subject: format!("Booked: GCSE Maths for {name}"),
            text: format!("Hello {name}"),
            html: "<p>Hello</p>".into(),
            ics: None,
            message_id: "job.user@cms-education".into(),
        }
    }

    fn outbox_mailer() -> Mailer {
        Mailer::from_config(&EmailConfig::default()).expect("the default config is valid")
    }

    /// The header block of a formatted message, one entry per header
    /// (folded continuation lines joined).
    fn headers(message: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(message);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut out: Vec<String> = Vec::new();
        for line in head.split("\r\n") {
            assert!(
                !line.contains('\r') && !line.contains('\n') && !line.contains('\0'),
                "raw control character in header line {line:?}"
            );
            match out.last_mut() {
                Some(prev) if line.starts_with([' ', '\t']) => prev.push_str(line),
                _ => out.push(line.to_owned()),
            }
        }
        out
    }

    #[test]
    fn hostile_names_are_encoded_and_never_panic() {
        let mailer = outbox_mailer();
        for name in HOSTILE.iter().copied().chain([&*"n".repeat(200)]) {
            let message = mailer
                .build(&email(name))
                .unwrap_or_else(|e| panic!("{name:?}: {e}"));
            let bytes = message.formatted();
            let headers = headers(&bytes);
            let names: Vec<&str> = headers
                .iter()
                .filter_map(|h| h.split_once(':').map(|(k, _)| k))
                .collect();
            for once in ["To", "Subject", "From"] {
                assert_eq!(
                    names.iter().filter(|n| **n == once).count(),
                    1,
                    "{name:?} {headers:?}"
                );
            }
            assert!(!names.contains(&"Bcc"), "{name:?} injected a header");
            // The recipient reads back as one mailbox at the right address.
            let parsed = mail_parser::MessageParser::default()
                .parse(&bytes)
                .expect("parses");
            let to = parsed.to().and_then(|t| t.first()).expect("one To");
            assert_eq!(to.address(), Some("parent@example.org"), "{name:?}");
            let shown = to.name().unwrap_or_default();
            assert!(
                !shown.chars().any(char::is_control),
                "{name:?} shown as {shown:?}"
            );
            let subject = parsed.subject().unwrap_or_default();
            assert!(!subject.chars().any(char::is_control), "{subject:?}");
        }
    }

    #[test]
    fn message_ids_and_methods_are_checked() {
        assert!(check_message_id("a@b").is_ok());
        assert!(check_message_id("").is_err());
        assert!(check_message_id("a b@c").is_err());
        assert!(check_message_id("<a@b>").is_err());
        assert!(ics_content_type("REQUEST").is_ok());
        assert_eq!(
            ics_content_type("cancel").map(|(_, n)| n).ok(),
            Some("cancel.ics")
        );
        assert!(ics_content_type("REQUEST\r\nX: y").is_err());
    }
}
