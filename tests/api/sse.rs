//! A Server-Sent Events client over a raw TCP connection: reads the response head, then decodes
//! the chunked body as it arrives into events (`event:`, `id:`, `data:` lines).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.data))
    }
}

pub struct SseStream {
    stream: TcpStream,
    /// Raw bytes not yet decoded (chunked framing).
    raw: Vec<u8>,
    /// Decoded body text not yet split into events.
    text: String,
    pub status: u16,
    pub head: String,
    /// Comment lines seen (`: …`).
    pub comments: Vec<String>,
    /// The server closed the stream.
    pub ended: bool,
}

impl SseStream {
    /// Opens `path` with the given extra headers; returns once the response head arrived.
    pub fn open(port: u16, path: &str, headers: &[(&str, &str)]) -> SseStream {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        let mut sse = SseStream {
            stream,
            raw: Vec::new(),
            text: String::new(),
            status: 0,
            head: String::new(),
            comments: Vec::new(),
            ended: false,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sse.raw.windows(4).any(|w| w == b"\r\n\r\n") {
            assert!(Instant::now() < deadline, "no response head for {path}");
            if !sse.read_some(Duration::from_millis(200)) && sse.ended {
                panic!(
                    "connection closed before the response head: {:?}",
                    String::from_utf8_lossy(&sse.raw)
                );
            }
        }
        let end = sse.raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        sse.head = String::from_utf8_lossy(&sse.raw[..end]).into_owned();
        sse.status = sse.head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        sse.raw.drain(..end + 4);
        sse.decode();
        sse
    }

    /// The body of a non-200 answer (read to its end).
    pub fn error_body(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.ended && Instant::now() < deadline {
            self.read_some(Duration::from_millis(100));
        }
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// Reads what is there (waiting at most `wait`); false when nothing came.
    fn read_some(&mut self, wait: Duration) -> bool {
        if self.ended {
            return false;
        }
        self.stream.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).unwrap();
        let mut buf = [0u8; 65536];
        match self.stream.read(&mut buf) {
            Ok(0) => {
                self.ended = true;
                false
            }
            Ok(n) => {
                self.raw.extend_from_slice(&buf[..n]);
                true
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                false
            }
            Err(_) => {
                self.ended = true;
                false
            }
        }
    }

    /// Moves whole chunks from `raw` into `text`.
    fn decode(&mut self) {
        if self.head.is_empty() {
            return;
        }
        loop {
            let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") else { return };
            let size_text = String::from_utf8_lossy(&self.raw[..line_end]).into_owned();
            let size =
                usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
            if size == 0 {
                self.ended = true;
                return;
            }
            if self.raw.len() < line_end + 2 + size + 2 {
                return;
            }
            let chunk = self.raw[line_end + 2..line_end + 2 + size].to_vec();
            self.raw.drain(..line_end + 2 + size + 2);
            self.text.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event (comments are collected in `comments`), or None after `timeout` or when
    /// the stream ended.
    pub fn next_event(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut event = SseEvent { event: "message".into(), id: None, data: String::new() };
                let mut any = false;
                for line in block.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        self.comments.push(c.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event.event = v.to_string();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        event.id = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        event.data.push_str(v);
                        any = true;
                    }
                }
                if any {
                    return Some(event);
                }
            }
            if self.ended {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.read_some(left.min(Duration::from_millis(200)));
            self.decode();
        }
    }

    /// Events until `pred` holds for one (returned last), or panics after `timeout`.
    pub fn events_until(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&SseEvent) -> bool,
    ) -> Vec<SseEvent> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(e) => {
                    let done = pred(&e);
                    seen.push(e);
                    if done {
                        return seen;
                    }
                }
                None => panic!(
                    "the awaited event did not come within {timeout:?} (ended: {}); got {seen:?}",
                    self.ended
                ),
            }
        }
    }

    /// Waits until the server closes the stream; false after `timeout`.
    pub fn wait_end(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.ended {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.read_some(left.min(Duration::from_millis(200)));
            self.decode();
        }
        // What was still buffered (its comments are collected on the way).
        while self.next_event(Duration::ZERO).is_some() {}
        true
    }
}
