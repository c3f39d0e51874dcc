//! A real SMTP server for tests (mailin-embedded, plain SMTP on 127.0.0.1)
//! that keeps every message it accepts with its envelope.

use std::io;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin_embedded::{Handler, Response, Server, response};

/// One accepted message: the SMTP envelope and the raw DATA bytes.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<Received>>>,
}

/// mailin-embedded clones the handler for each connection, so the message
/// in progress is per connection and only the finished list is shared.
#[derive(Clone)]
struct Sink {
    messages: Arc<Mutex<Vec<Received>>>,
    current: Option<Received>,
}

impl Handler for Sink {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Received {
            from: from.to_owned(),
            to: to.to_vec(),
            data: Vec::new(),
        });
        response::OK
    }

    // Lines arrive with their CRLF and with dot-stuffing already undone.
    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(m) = self.current.as_mut() {
            m.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(m) = self.current.take() {
            self.messages.lock().unwrap().push(m);
        }
        response::OK
    }
}

impl SmtpSink {
    /// Starts an SMTP server on 127.0.0.1 with a free port in a background
    /// thread. The listener is bound here, so the port is taken before this
    /// returns and a client cannot race the server's start.
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp sink");
        let port = listener.local_addr().expect("sink address").port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let mut server = Server::new(Sink {
            messages: messages.clone(),
            current: None,
        });
        server
            .with_name("sink.test")
            // A real server takes many connections at once; the pools of
            // servers stopped earlier in a test may still hold a few open.
            .with_num_threads(32)
            .with_tcp_listener(listener);
        // serve() blocks forever; the thread ends with the test process.
        std::thread::Builder::new()
            .name(format!("smtp-sink-{port}"))
            .spawn(move || {
                if let Err(e) = server.serve() {
                    eprintln!("smtp sink on port {port} stopped: {e}");
                }
            })
            .expect("spawn smtp sink");
        SmtpSink { port, messages }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits (polling every 10 ms, real time — this is waiting on IO, not
    /// on the test clock) until at least n messages arrived or `timeout`
    /// passes; returns what arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
