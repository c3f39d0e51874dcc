//! `PhxClient`: one socket, many topics. A reader task routes `phx_reply`
//! frames to the waiter of their ref and every other frame to an event
//! queue, so a test can await replies and events independently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cms_protocol::topic::PHOENIX;
use cms_protocol::{Frame, Reply, event};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::ClientError;

/// How long a reply may take before the call fails.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;
type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Reply>>>>;

/// Called on the reader task with each frame that no call is waiting for.
pub type EventHook = Arc<dyn Fn(Frame) + Send + Sync>;

/// The socket URL for an HTTP base such as `http://127.0.0.1:4000`.
pub fn socket_url(base_http: &str, token: &str) -> String {
    let ws = base_http.replacen("http", "ws", 1);
    format!("{ws}/socket/websocket?vsn=2.0.0&token={token}")
}

pub struct PhxClient {
    sink: tokio::sync::Mutex<Sink>,
    waiters: Waiters,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Frame>>,
    /// Topic → join_ref of the current join.
    joins: Mutex<HashMap<String, String>>,
    next_ref: AtomicU64,
    /// The close frame's code and reason, once the server closed.
    closed: Arc<Mutex<Option<(u16, String)>>>,
    done: tokio::sync::Mutex<oneshot::Receiver<()>>,
}

impl PhxClient {
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        Self::connect_with_request(url.into_client_request()?).await
    }

    /// Connects with a request the caller built (extra headers such as
    /// `Sec-WebSocket-Protocol` or `Origin`).
    pub async fn connect_with_request(
        req: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Self, ClientError> {
        let (ws, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Self::start(ws, None))
    }

    /// For load: connects from `source` (a loopback address of the
    /// caller's choosing, so many sockets don't exhaust one address's
    /// ephemeral ports) and hands every non-reply frame to `hook` on the
    /// reader task, as it arrives, instead of queueing it.
    pub async fn connect_from(
        url: &str,
        source: std::net::IpAddr,
        hook: EventHook,
    ) -> Result<Self, ClientError> {
        let req = url.into_client_request()?;
        let stream = tcp_from(&req, source).await?;
        let (ws, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream)).await?;
        Ok(Self::start(ws, Some(hook)))
    }

    fn start(ws: WebSocketStream<MaybeTlsStream<TcpStream>>, hook: Option<EventHook>) -> Self {
        let (sink, mut stream) = ws.split();
        let waiters: Waiters = Arc::default();
        let closed: Arc<Mutex<Option<(u16, String)>>> = Arc::default();
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = oneshot::channel();
        let (w, c) = (waiters.clone(), closed.clone());
        tokio::spawn(async move {
            while let Some(msg) = stream.next().await {
                let msg = match msg {
                    Ok(msg) => msg,
                    // Why the socket ended, for whoever was waiting on it.
                    Err(e) => {
                        *lock(&c) = Some((0, format!("read error: {e}")));
                        break;
                    }
                };
                match msg {
                    Message::Text(text) => {
                        let Ok(frame) = Frame::decode(&text) else {
                            continue;
                        };
                        if frame.event == event::REPLY
                            && let Some(r) = frame.msg_ref.as_ref()
                            && let Some(waiter) = lock(&w).remove(r)
                        {
                            if let Ok(reply) = serde_json::from_value(frame.payload.clone()) {
                                let _ = waiter.send(reply);
                            }
                            continue;
                        }
                        match &hook {
                            Some(h) => h(frame),
                            None => {
                                let _ = tx.send(frame);
                            }
                        }
                    }
                    Message::Close(frame) => {
                        let info = frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new()));
                        *lock(&c) = Some(info);
                        break;
                    }
                    _ => {}
                }
            }
            // Pending calls fail rather than wait out their timeout.
            lock(&w).clear();
            let _ = done_tx.send(());
        });
        Self {
            sink: tokio::sync::Mutex::new(sink),
            waiters,
            events: tokio::sync::Mutex::new(rx),
            joins: Mutex::default(),
            next_ref: AtomicU64::new(1),
            closed,
            done: tokio::sync::Mutex::new(done_rx),
        }
    }

    fn make_ref(&self) -> String {
        self.next_ref.fetch_add(1, Ordering::Relaxed).to_string()
    }

    async fn send_frame(&self, frame: &Frame) -> Result<(), ClientError> {
        self.send_raw_text(frame.encode()).await
    }

    pub async fn send_raw_text(&self, text: String) -> Result<(), ClientError> {
        self.sink
            .lock()
            .await
            .send(Message::Text(text.into()))
            .await
            .map_err(ClientError::from)
    }

    /// Sends a frame and waits for the reply with its ref.
    async fn request(&self, frame: Frame) -> Result<Reply, ClientError> {
        let r = frame.msg_ref.clone().unwrap_or_default();
        let (tx, rx) = oneshot::channel();
        lock(&self.waiters).insert(r.clone(), tx);
        self.send_frame(&frame).await?;
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(match lock(&self.closed).clone() {
                Some((code, reason)) => ClientError::ClosedWith { code, reason },
                None => ClientError::Closed,
            }),
            Err(_) => {
                lock(&self.waiters).remove(&r);
                Err(ClientError::Timeout(format!(
                    "reply to {} {}",
                    frame.topic, frame.event
                )))
            }
        }
    }

    pub async fn join(&self, topic: &str, payload: Value) -> Result<Reply, ClientError> {
        let r = self.make_ref();
        lock(&self.joins).insert(topic.to_owned(), r.clone());
        self.request(Frame {
            join_ref: Some(r.clone()),
            msg_ref: Some(r),
            topic: topic.to_owned(),
            event: event::JOIN.to_owned(),
            payload,
        })
        .await
    }

    fn frame(&self, topic: &str, event: &str, payload: Value) -> Frame {
        Frame {
            join_ref: lock(&self.joins).get(topic).cloned(),
            msg_ref: Some(self.make_ref()),
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload,
        }
    }

    /// Pushes an event on a topic and waits for its reply.
    pub async fn push(
        &self,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> Result<Reply, ClientError> {
        self.request(self.frame(topic, event, payload)).await
    }

    /// Pushes without waiting; the reply arrives as an event.
    pub async fn push_no_wait(
        &self,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> Result<(), ClientError> {
        self.send_frame(&self.frame(topic, event, payload)).await
    }

    pub async fn heartbeat(&self) -> Result<Reply, ClientError> {
        self.push(PHOENIX, event::HEARTBEAT, json!({})).await
    }

    /// The next frame that is not an awaited reply.
    pub async fn next_event(&self, timeout: Duration) -> Result<Frame, ClientError> {
        let mut rx = self.events.lock().await;
        match tokio::time::timeout(timeout, rx.recv()).await {
            Ok(Some(f)) => Ok(f),
            Ok(None) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout("an event".into())),
        }
    }

    /// The next `event` on `topic`, skipping others.
    pub async fn next_event_named(
        &self,
        topic: &str,
        event: &str,
        timeout: Duration,
    ) -> Result<Frame, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                Ok(f) if f.topic == topic && f.event == event => return Ok(f),
                Ok(_) => continue,
                Err(ClientError::Timeout(_)) => {
                    return Err(ClientError::Timeout(format!("{event} on {topic}")));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Panics if `event` arrives on `topic` within `within`.
    pub async fn expect_no_event(&self, topic: &str, event: &str, within: Duration) {
        if let Ok(f) = self.next_event_named(topic, event, within).await {
            panic!("unexpected {event} on {topic}: {}", f.payload);
        }
    }

    /// Waits until the server closes the socket; its close code and reason.
    pub async fn closed(&self, timeout: Duration) -> Result<Option<(u16, String)>, ClientError> {
        let mut done = self.done.lock().await;
        match tokio::time::timeout(timeout, &mut *done).await {
            Ok(_) => Ok(lock(&self.closed).clone()),
            Err(_) => Err(ClientError::Timeout("the socket to close".into())),
        }
    }

    pub async fn close(&self) {
        let _ = self.sink.lock().await.close().await;
    }
}

/// A TCP connection to the request's host from `source`, without Nagle's
/// delay (small frames must leave at once for latency to mean anything).
pub(crate) async fn tcp_from(
    req: &tokio_tungstenite::tungstenite::handshake::client::Request,
    source: std::net::IpAddr,
) -> Result<TcpStream, ClientError> {
    let host = req.uri().host().unwrap_or("127.0.0.1").to_owned();
    let port = req.uri().port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(ClientError::Io)?
        .next()
        .ok_or(ClientError::Closed)?;
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(ClientError::Io)?;
    socket
        .bind(std::net::SocketAddr::new(source, 0))
        .map_err(ClientError::Io)?;
    let stream = socket.connect(addr).await.map_err(ClientError::Io)?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
