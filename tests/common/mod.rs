//! The test harness: starts the real `gws-emulator` binary on a free port with its own temporary
//! folder (database, logs), and talks to it over real HTTP/1.1. Every test file uses it.
#![allow(dead_code)]

pub mod sse;
pub mod webdriver;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_gws-emulator");
pub const APIKEY: &str = "N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44";

/// Timings that keep the tests fast; each can be overridden with `ServerBuilder::arg`.
const FAST_DEFAULTS: &[(&str, &str)] = &[
    ("--agent-join-delay", "50ms..100ms"),
    ("--reply-delay", "20ms..60ms"),
    ("--system-message-interval", "0"),
    ("--idle-timeout", "0"),
    ("--scheduler-tick", "10ms"),
];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh folder under the system's temp dir, removed when dropped unless the test failed.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join("gws-emulator-tests").join(format!(
            "{}-{}-{n}",
            std::process::id(),
            nanos()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed; its files are kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
        as u128
}

pub struct ServerBuilder {
    args: Vec<(String, String)>,
    envs: Vec<(String, String)>,
    dir: Option<TempDir>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerBuilder {
    pub fn new() -> ServerBuilder {
        ServerBuilder {
            args: FAST_DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            envs: Vec::new(),
            dir: None,
        }
    }

    /// Sets a flag (replacing a fast default of the same name).
    pub fn arg(mut self, flag: &str, value: &str) -> Self {
        self.args.retain(|(k, _)| k != flag);
        self.args.push((flag.to_string(), value.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    /// Uses an existing folder (its chat.db) instead of a new one.
    pub fn in_dir(mut self, dir: TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    pub fn start(self) -> Server {
        let dir = self.dir.unwrap_or_else(TempDir::new);
        let mut server = Server {
            child: None,
            port: 0,
            fixed_port: None,
            dir,
            args: self.args,
            envs: self.envs,
        };
        server.spawn();
        server
    }
}

/// A running emulator. Dropping it kills the process.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    /// Set by `start_again_on_same_port`: the next start binds this port instead of a free one.
    fixed_port: Option<u16>,
    pub dir: TempDir,
    args: Vec<(String, String)>,
    envs: Vec<(String, String)>,
}

impl Server {
    /// An emulator with fast timings, in bot mode, on a fresh database.
    pub fn start() -> Server {
        ServerBuilder::new().start()
    }

    /// An emulator whose agent side moves only through the admin API.
    pub fn manual() -> Server {
        ServerBuilder::new().arg("--agent-mode", "manual").start()
    }

    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("chat.db")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .arg("--port")
            .arg(self.fixed_port.unwrap_or(0).to_string())
            .arg("--db")
            .arg(self.db())
            .arg("--log-dir")
            .arg(self.log_dir());
        for (k, v) in &self.args {
            cmd.arg(format!("{k}={v}"));
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("stderr.txt"))
            .unwrap();
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = cmd.spawn().expect("start gws-emulator");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let port = rest
                        .trim_end_matches('/')
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.parse::<u16>().ok());
                    let _ = tx.send(port);
                }
            }
        });
        self.child = Some(child);
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(port)) => self.port = port,
            _ => {
                let status = self.child.as_mut().unwrap().try_wait().ok().flatten();
                panic!(
                    "the emulator did not start (exit: {status:?}); stderr:\n{}",
                    std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
                );
            }
        }
    }

    /// Stops the emulator the way a person does (SIGTERM, like Ctrl-C) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The shell's built-in kill: no package (procps) needed on a fresh machine.
            let sent = Command::new("sh")
                .arg("-c")
                .arg(format!("kill -TERM {}", child.id()))
                .status()
                .expect("run sh to send SIGTERM");
            assert!(sent.success(), "could not send SIGTERM to the emulator");
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("the emulator did not stop within 15 s of SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Kills the emulator with SIGKILL: no chance to clean up, like a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the emulator again on the same database and settings (a new port).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "stop or kill the emulator first");
        self.spawn();
    }

    /// Starts the emulator again on the same port, so pages loaded from it can reconnect.
    pub fn start_again_on_same_port(&mut self) {
        assert!(self.child.is_none(), "stop or kill the emulator first");
        self.fixed_port = Some(self.port);
        self.spawn();
    }

    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_dir().join("chat.log")).unwrap_or_default()
    }

    // ---- HTTP ----

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        http(self.port, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    pub fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, &[], b"")
    }

    /// RequestChat; returns the new chat's id.
    pub fn request_chat(&self, nickname: &str) -> String {
        let res = self.post(
            "/api/v2/chats",
            &json!({"operationName": "RequestChat", "nickname": nickname, "subject": "testing"}),
        );
        assert_eq!(res.status, 200, "RequestChat: {}", res.text());
        res.json()["id"].as_str().expect("an id").to_string()
    }

    /// Posts an operation to a chat, e.g. `op(id, json!({"operationName":"Complete"}))`.
    pub fn op(&self, id: &str, body: Value) -> Response {
        self.post(&format!("/api/v2/chats/{id}"), &body)
    }

    pub fn send_message(&self, id: &str, text: &str) -> Response {
        self.op(id, json!({"operationName": "SendMessage", "text": text}))
    }

    pub fn complete(&self, id: &str) -> Response {
        self.op(id, json!({"operationName": "Complete"}))
    }

    /// GetChat's `chat` object (asserting success).
    pub fn chat(&self, id: &str) -> Value {
        let res = self.get(&format!("/api/v2/chats/{id}"));
        assert_eq!(res.status, 200, "GetChat: {}", res.text());
        res.json()["chat"].clone()
    }

    pub fn state(&self, id: &str) -> String {
        self.chat(id)["state"].as_str().unwrap().to_string()
    }

    /// GetTranscript without index: the messages not yet received.
    pub fn poll(&self, id: &str) -> Vec<Value> {
        messages(&self.get(&format!("/api/v2/chats/{id}/messages")))
    }

    /// GetTranscript with `?index=N`.
    pub fn transcript_from(&self, id: &str, index: u64) -> Vec<Value> {
        messages(&self.get(&format!("/api/v2/chats/{id}/messages?index={index}")))
    }

    /// The whole transcript, read through the admin API (moves no customer cursor).
    pub fn all_messages(&self, id: &str) -> Vec<Value> {
        let res = self.get(&format!("/__admin/chats/{id}"));
        assert_eq!(res.status, 200, "admin chat: {}", res.text());
        res.json()["chat"]["messages"].as_array().unwrap().clone()
    }

    pub fn admin_chat(&self, id: &str) -> Value {
        let res = self.get(&format!("/__admin/chats/{id}"));
        assert_eq!(res.status, 200, "admin chat: {}", res.text());
        res.json()["chat"].clone()
    }

    /// Acts as the agent: `agent(id, json!({"action":"join","nickname":"Ann"}))`.
    pub fn agent(&self, id: &str, body: Value) -> Response {
        self.post(&format!("/__admin/chats/{id}/agent"), &body)
    }

    /// Polls `check` until it returns Some, or panics naming `what` after `timeout`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        check: impl FnMut() -> Option<T>,
    ) -> T {
        wait_for(what, timeout, check)
    }

    /// Waits until the whole transcript holds a message matching `pred`; returns the transcript.
    pub fn wait_for_message(
        &self,
        id: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        wait_for(what, Duration::from_secs(10), || {
            let all = self.all_messages(id);
            all.iter().any(&pred).then_some(all)
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

pub fn messages(res: &Response) -> Vec<Value> {
    assert_eq!(res.status, 200, "GetTranscript: {}", res.text());
    let body = res.json();
    assert_eq!(body["statusCode"], 0);
    body["messages"].as_array().expect("messages array").clone()
}

/// The `text` of every message of `kind` (e.g. "Text"), in order.
pub fn texts(messages: &[Value], kind: &str) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["type"] == kind)
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

pub fn indexes(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(|m| m["index"].as_i64().unwrap()).collect()
}

/// Runs the binary to completion (for start-up errors), with a time limit.
pub fn run_emulator(args: &[&str], envs: &[(&str, &str)], dir: &Path) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(envs.iter().copied())
        .env_remove("RUST_LOG")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gws-emulator");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gws-emulator {args:?} did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

// ---- a minimal HTTP/1.1 client over TcpStream, so tests control every byte ----

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {:?}", self.text()))
    }

    /// Asserts a GWS error: HTTP status, statusCode, and a non-empty statusMessage.
    #[track_caller]
    pub fn assert_error(&self, http: u16, status_code: i64) {
        assert_eq!(self.status, http, "HTTP status of {:?}", self.text());
        let body = self.json();
        assert_eq!(body["statusCode"], status_code, "statusCode of {body}");
        let msg = body["statusMessage"].as_str().unwrap_or_default();
        assert!(!msg.trim().is_empty(), "statusMessage missing in {body}");
    }
}

/// Sends one request on a new connection and reads the whole response.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    let mut has_length = false;
    for (k, v) in headers {
        has_length |=
            k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding");
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_length && (!body.is_empty() || method == "POST" || method == "PUT") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    raw_request(port, &raw)
}

/// Sends raw bytes and parses the response (the server may answer before reading them all).
pub fn raw_request(port: u16, raw: &[u8]) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the emulator");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    // A server that refuses a large body early may close before reading it all: not an error.
    let _ = stream.write_all(raw);
    let _ = stream.flush();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        if response_complete(&buf) {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if !buf.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the response failed: {e} (got {} bytes)", buf.len()),
        }
    }
    parse_response(&buf)
}

/// Whether `buf` holds a whole response (by Content-Length, or the last chunk), so a peer that
/// keeps the connection open despite `Connection: close` does not make us wait for EOF.
fn response_complete(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let body = &buf[end + 4..];
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|len| body.len() >= len)
}

fn parse_response(buf: &[u8]) -> Response {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
        panic!("no complete response head in {:?}", String::from_utf8_lossy(buf))
    });
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 =
        status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..pos]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = pos + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}
