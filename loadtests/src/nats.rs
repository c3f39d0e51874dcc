//! A minimal NATS client over WebSocket: CONNECT, SUB, PUB, PING/PONG and
//! MSG, enough to drive nats-server's WebSocket listener with the same
//! fan-out the chat scenario asks of the CMS server.

use std::net::IpAddr;
use std::sync::Arc;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Notify};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::ClientError;

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// Called with (subject, payload) for each MSG.
pub type MsgHook = Arc<dyn Fn(&str, &str) + Send + Sync>;

pub struct NatsConn {
    sink: Arc<Mutex<Sink>>,
    pong: Arc<Notify>,
    next_sid: std::sync::atomic::AtomicU64,
}

impl NatsConn {
    pub async fn connect_from(
        url: &str,
        source: IpAddr,
        on_msg: MsgHook,
        on_error: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Self, ClientError> {
        let req = url.into_client_request()?;
        let stream = crate::client::tcp_from(&req, source).await?;
        let (ws, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream)).await?;
        let (sink, mut stream) = ws.split();
        let sink = Arc::new(Mutex::new(sink));
        let pong = Arc::new(Notify::new());
        let (s, p) = (sink.clone(), pong.clone());
        tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::new();
            while let Some(Ok(msg)) = stream.next().await {
                match msg {
                    Message::Binary(b) => buf.extend_from_slice(&b),
                    Message::Text(t) => buf.extend_from_slice(t.as_bytes()),
                    Message::Close(_) => break,
                    _ => continue,
                }
                let mut pings = 0;
                let used = parse(&buf, &mut |op| match op {
                    Op::Msg { subject, payload } => on_msg(subject, payload),
                    Op::Ping => pings += 1,
                    Op::Pong => p.notify_one(),
                    Op::Err => on_error(),
                });
                buf.drain(..used);
                for _ in 0..pings {
                    let _ = s
                        .lock()
                        .await
                        .send(Message::Binary("PONG\r\n".as_bytes().to_vec().into()))
                        .await;
                }
            }
        });
        let conn = Self {
            sink,
            pong,
            next_sid: std::sync::atomic::AtomicU64::new(1),
        };
        conn.write(
            "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":true,\"protocol\":1,\"lang\":\"rust\",\"version\":\"0\"}\r\n"
                .to_owned(),
        )
        .await?;
        Ok(conn)
    }

    async fn write(&self, text: String) -> Result<(), ClientError> {
        self.sink
            .lock()
            .await
            .send(Message::Binary(text.into_bytes().into()))
            .await
            .map_err(ClientError::from)
    }

    /// Subscribes and waits until the server has seen it (a PING answered).
    pub async fn subscribe(&self, subject: &str) -> Result<(), ClientError> {
        let sid = self
            .next_sid
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.write(format!("SUB {subject} {sid}\r\n")).await?;
        self.flush().await
    }

    /// PING, then wait for the PONG: everything sent before is processed.
    pub async fn flush(&self) -> Result<(), ClientError> {
        let pong = self.pong.notified();
        self.write("PING\r\n".to_owned()).await?;
        tokio::time::timeout(std::time::Duration::from_secs(10), pong)
            .await
            .map_err(|_| ClientError::Timeout("PONG".into()))
    }

    pub async fn publish(&self, subject: &str, payload: &str) -> Result<(), ClientError> {
        self.write(format!("PUB {subject} {}\r\n{payload}\r\n", payload.len()))
            .await
    }

    pub async fn close(&self) {
        let _ = self.sink.lock().await.close().await;
    }
}

enum Op<'a> {
    Msg { subject: &'a str, payload: &'a str },
    Ping,
    Pong,
    Err,
}

/// Reads whole protocol operations from `buf`; returns the bytes used.
/// A partial operation at the end waits for more bytes.
fn parse(buf: &[u8], on: &mut dyn FnMut(Op<'_>)) -> usize {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return at;
        };
        let line = String::from_utf8_lossy(&rest[..eol]);
        let mut words = line.split_ascii_whitespace();
        let op = words.next().unwrap_or("").to_ascii_uppercase();
        match op.as_str() {
            "MSG" => {
                let parts: Vec<&str> = words.collect();
                // MSG <subject> <sid> [reply-to] <#bytes>
                let (Some(subject), Some(len)) = (
                    parts.first(),
                    parts.last().and_then(|n| n.parse::<usize>().ok()),
                ) else {
                    on(Op::Err);
                    at += eol + 2;
                    continue;
                };
                let start = eol + 2;
                if rest.len() < start + len + 2 {
                    return at;
                }
                let payload = String::from_utf8_lossy(&rest[start..start + len]);
                on(Op::Msg {
                    subject,
                    payload: &payload,
                });
                at += start + len + 2;
            }
            "PING" => {
                on(Op::Ping);
                at += eol + 2;
            }
            "PONG" => {
                on(Op::Pong);
                at += eol + 2;
            }
            "-ERR" => {
                on(Op::Err);
                at += eol + 2;
            }
            // INFO, +OK and anything else carry nothing we need.
            _ => at += eol + 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_split_across_frames_are_read_whole() {
        let wire =
            b"INFO {}\r\nMSG a.b 1 5\r\nhello\r\nPING\r\nMSG c 2 r 3\r\nabc\r\nMSG d 1 4\r\nab";
        let mut got = Vec::new();
        let used = parse(wire, &mut |op| match op {
            Op::Msg { subject, payload } => got.push(format!("{subject}={payload}")),
            Op::Ping => got.push("ping".into()),
            Op::Pong => got.push("pong".into()),
            Op::Err => got.push("err".into()),
        });
        assert_eq!(got, ["a.b=hello", "ping", "c=abc"]);
        assert_eq!(&wire[used..], b"MSG d 1 4\r\nab");
    }
}
