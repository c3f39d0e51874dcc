//! What every HTTP connection and response goes through before the routes:
//! a cap on the connections one address holds, a deadline for a request to
//! arrive and be answered, and the security headers.
//!
//! A slow client (a body trickled a byte at a time, or headers never
//! finished) would otherwise hold a descriptor for as long as it likes;
//! thousands of them take every descriptor the process has. Headers are
//! bounded by actix's `client_request_timeout` (set in startup); the rest of
//! the request by [`deadline`]; the number of them by [`Connections`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;

/// Open connections per client address, shared by every worker.
#[derive(Clone, Default)]
pub struct Connections {
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// Held in a connection's extensions for as long as it is open; dropping
/// it (the connection closed) gives the address its place back.
pub struct Connection {
    addr: IpAddr,
    /// How many the address held, this one included, when it opened.
    pub count: u32,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl Connections {
    /// Counts a new connection from `addr` (called from `on_connect`).
    pub fn opened(&self, addr: IpAddr, ext: &mut Extensions) {
        let count = match self.open.lock() {
            Ok(mut open) => {
                let n = open.entry(addr).or_insert(0);
                *n += 1;
                *n
            }
            // A poisoned map counts nothing rather than refusing everyone.
            Err(_) => 0,
        };
        ext.insert(Connection {
            addr,
            count,
            open: self.open.clone(),
        });
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock()
            && let Some(n) = open.get_mut(&self.addr)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

/// Where WebSockets are upgraded (`routes::configure` mounts the socket
/// there).
pub const SOCKET_PATH: &str = "/socket/websocket";

/// The limits this module applies, from `[limits]`.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub connections_per_address: u32,
    pub request_timeout: Duration,
}

fn refusal(status: actix_web::http::StatusCode, error: &str, message: String) -> HttpResponse {
    HttpResponse::build(status)
        // The connection is the thing being refused: do not keep it.
        .insert_header((header::CONNECTION, "close"))
        .json(json!({ "error": error, "message": message }))
}

/// Refuses a request on a connection past its address's cap (429, then the
/// connection closes), and bounds the time its body may take to arrive.
pub async fn deadline(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let limits = req
        .app_data::<web::Data<HttpLimits>>()
        .map(|l| *l.get_ref());
    let Some(limits) = limits else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let over = req
        .conn_data::<Connection>()
        .is_some_and(|c| c.count > limits.connections_per_address);
    if over {
        let res = refusal(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!(
                "this address has {} connections open already",
                limits.connections_per_address
            ),
        );
        return Ok(req.into_response(res));
    }
    // An upgraded connection's "body" is the WebSocket itself, open for
    // hours: its liveness is the socket's heartbeat timeout, not this
    // deadline (which closed every socket 10 s after it opened, with
    // 1002, until the lesson-rush load run found it).
    // Only the socket's own path: an upgrade header on any other request
    // must not carry a slow body past the deadline.
    if req.path() == SOCKET_PATH && req.head().upgrade() {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    // The body must arrive by the deadline: a read after it fails with
    // `TimedOut`, which the body extractors answer with 408 (and the
    // unread rest of the body makes actix close the connection).
    let deadline = tokio::time::Instant::now() + limits.request_timeout;
    let mut req = req;
    let body = req.take_payload();
    req.set_payload(timed(body, deadline));
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// `payload`, ending in a `TimedOut` error if it is still being read at
/// `deadline`.
fn timed(payload: Payload, deadline: tokio::time::Instant) -> Payload {
    let sleep = Box::pin(tokio::time::sleep_until(deadline));
    let stream = futures_util::stream::unfold(
        (payload, sleep, false),
        |(mut payload, mut sleep, over)| async move {
            if over {
                return None;
            }
            tokio::select! {
                item = payload.next() => item.map(|i| (i, (payload, sleep, false))),
                () = &mut sleep => {
                    let e = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body did not arrive in time",
                    );
                    Some((Err(PayloadError::Io(e)), (payload, sleep, true)))
                }
            }
        },
    );
    // Fused: a reader may poll again after the end (actix-multipart
    // does), and an unfold must not be.
    Payload::Stream {
        payload: Box::pin(stream.fuse()),
    }
}

/// Headers every response carries. The API serves JSON and iCalendar, never
/// a page, so the content security policy allows nothing at all.
pub fn security_headers(https: bool) -> actix_web::middleware::DefaultHeaders {
    let mut h = actix_web::middleware::DefaultHeaders::new()
        .add((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .add((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .add((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .add((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")));
    if https {
        // Only when clients reach us over TLS (the public URL says so): a
        // browser ignores the header on plain HTTP anyway, and sending it
        // there would promise what the deployment may not keep.
        h = h.add((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    h
}
