//! tracing: human-readable by default, JSON lines with `log.json`; the
//! access log, which never holds a secret.

use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

pub fn init(cfg: &LogConfig) {
    init_to(cfg, Output::Stdout);
}

/// Where log lines go: the server's own output is its log; a command's
/// output is what it prints, so its log goes to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

pub fn init_to(cfg: &LogConfig, out: Output) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second init (tests) keeps the first subscriber.
    let _ = match (cfg.json, out) {
        (true, Output::Stdout) => builder.json().try_init(),
        (true, Output::Stderr) => builder.json().with_writer(std::io::stderr).try_init(),
        (false, Output::Stdout) => builder.try_init(),
        (false, Output::Stderr) => builder.with_writer(std::io::stderr).try_init(),
    };
}

/// "outer: inner: innermost", so the cause is never lost in a log line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// What a caught panic said, when it said it as text.
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// The access log: method, path, status, time. Never the query string
/// (Phoenix clients put the bearer token in the socket URL's) and never the
/// secret part of a path (the calendar feed's token): see [`loggable_path`].
pub fn access_log() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%{method}xi %{path}xi %s %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
        .custom_request_replace("path", |req| loggable_path(req.path()))
        .exclude("/healthz")
}

/// Paths whose last part is a secret (the calendar feed: the token is the
/// only thing that guards it).
const SECRET_PATHS: &[&str] = &["/calendar/"];

/// A request path as the access log may hold it: under a secret prefix
/// everything after it is `<redacted>` (keeping a `.ics` suffix, so the
/// line still says what was asked for). The prefix is compared on the
/// percent-decoded path, since the router decodes before it matches.
pub fn loggable_path(path: &str) -> String {
    let decoded = percent_decoded(path);
    for prefix in SECRET_PATHS {
        if decoded.starts_with(prefix) {
            let suffix = if decoded.ends_with(".ics") {
                ".ics"
            } else {
                ""
            };
            return format!("{prefix}<redacted>{suffix}");
        }
    }
    path.to_owned()
}

/// `%XX` escapes decoded (invalid ones kept as written), for comparison.
fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits make at most 0xFF.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_tokens_never_reach_the_access_log() {
        let token = "0123456789abcdef0123456789abcdef";
        for path in [
            format!("/calendar/{token}.ics"),
            format!("/%63alendar/{token}.ics"),
            format!("/calendar/{token}"),
        ] {
            let logged = loggable_path(&path);
            assert!(!logged.contains(token), "{path} logged as {logged}");
            assert!(logged.starts_with("/calendar/<redacted>"), "{logged}");
        }
        assert_eq!(loggable_path("/api/v1/lessons/x"), "/api/v1/lessons/x");
        assert_eq!(loggable_path("/socket/websocket"), "/socket/websocket");
    }
}
