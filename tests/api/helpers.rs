//! The test harness: starts the real `gws-emulator` binary on a free port with its own temporary
//! folder (database, logs), and talks to it over real HTTP/1.1 with one client whose calls return
//! `Result`, so a test that provokes failures (a hang, a cut connection, a killed emulator) sees
//! them as values; `Server`'s panicking conveniences (`get`, `post`, `request_chat`, …) are built
//! on it. It also keeps the heavy tests apart from the rest (`exclusive`).

use std::cell::Cell;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::marker::PhantomData;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
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

// ---- heavy tests run alone ----

/// The tests of this binary run two at a time. A heavy test (one that keeps both cores busy for
/// seconds: `load`'s 64-client and 10 000-chat runs, `crash_safety`, `schemathesis`) takes
/// `exclusive()` first: it waits until no emulator of another test is running, and while it holds
/// the guard no other test's emulator starts (each `Server` of an ordinary test holds a shared
/// pass for its lifetime). So the timings of ordinary tests never compete with a heavy test, and
/// heavy tests never compete with each other.
///
/// Shared passes do not wait for a heavy test that is only waiting, so a test may hold several
/// emulators at once (also from threads it spawns) without deadlock. A heavy test must start its
/// emulators on its own thread, where they take no pass.
pub fn exclusive() -> Exclusive {
    let mut gate = gate();
    while gate.exclusive || gate.shared > 0 {
        gate = GATE_TURN.wait(gate).unwrap_or_else(PoisonError::into_inner);
    }
    gate.exclusive = true;
    HOLDS_EXCLUSIVE.with(|h| h.set(true));
    Exclusive { _not_send: PhantomData }
}

/// Held by a heavy test for as long as it runs; see `exclusive`.
#[must_use = "the test runs alone only while the guard is held"]
pub struct Exclusive {
    /// Dropped on the thread that took it (it clears that thread's mark).
    _not_send: PhantomData<*const ()>,
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        gate().exclusive = false;
        HOLDS_EXCLUSIVE.with(|h| h.set(false));
        GATE_TURN.notify_all();
    }
}

struct GateState {
    shared: usize,
    exclusive: bool,
}

static GATE: Mutex<GateState> = Mutex::new(GateState { shared: 0, exclusive: false });
static GATE_TURN: Condvar = Condvar::new();

thread_local! {
    static HOLDS_EXCLUSIVE: Cell<bool> = const { Cell::new(false) };
}

fn gate() -> MutexGuard<'static, GateState> {
    GATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An ordinary test's pass, held by its `Server`: none on the thread of a heavy test.
struct SharedPass;

impl SharedPass {
    fn take() -> Option<SharedPass> {
        if HOLDS_EXCLUSIVE.with(Cell::get) {
            return None;
        }
        let mut gate = gate();
        while gate.exclusive {
            gate = GATE_TURN.wait(gate).unwrap_or_else(PoisonError::into_inner);
        }
        gate.shared += 1;
        Some(SharedPass)
    }
}

impl Drop for SharedPass {
    fn drop(&mut self) {
        let mut gate = gate();
        gate.shared -= 1;
        if gate.shared == 0 {
            GATE_TURN.notify_all();
        }
    }
}

// ---- a temporary folder per emulator ----

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh folder under the system's temp dir, removed when dropped unless the test failed.
pub struct TempDir(PathBuf);

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

// ---- the emulator ----

pub struct ServerBuilder {
    args: Vec<(String, String)>,
    envs: Vec<(String, String)>,
    dir: Option<TempDir>,
}

impl ServerBuilder {
    fn new() -> ServerBuilder {
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
        let pass = SharedPass::take();
        let dir = self.dir.unwrap_or_else(TempDir::new);
        let mut server = Server {
            child: None,
            port: 0,
            fixed_port: None,
            dir,
            args: self.args,
            envs: self.envs,
            _pass: pass,
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
    /// Released after the process is killed (fields drop after `Drop::drop`).
    _pass: Option<SharedPass>,
}

impl Server {
    /// An emulator with fast timings, in bot mode, on a fresh database.
    pub fn start() -> Server {
        ServerBuilder::new().start()
    }

    /// The same in manual agent mode: the agent side only moves through the admin API, so
    /// nothing changes a chat behind the test's back.
    pub fn manual() -> Server {
        Server::builder().arg("--agent-mode", "manual").start()
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
                    self.stderr_text()
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

    /// What the emulator wrote to stderr (panics end up here).
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
    }

    // ---- HTTP ----

    /// One request on a new connection (see `try_request`).
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, String> {
        try_request(self.port, method, path, headers, body)
    }

    /// `try_request`, panicking when no whole answer arrives.
    #[track_caller]
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.try_request(method, path, headers, body).unwrap_or_else(|e| {
            panic!("{method} {path}: no answer from the emulator on port {}: {e}", self.port)
        })
    }

    #[track_caller]
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    #[track_caller]
    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    #[track_caller]
    pub fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, &[], b"")
    }

    /// RequestChat; returns the new chat's id.
    #[track_caller]
    pub fn request_chat(&self, nickname: &str) -> String {
        let res = self.post(
            "/api/v2/chats",
            &json!({"operationName": "RequestChat", "nickname": nickname, "subject": "testing"}),
        );
        assert_eq!(res.status, 200, "RequestChat: {}", res.text());
        res.json()["id"].as_str().expect("an id").to_string()
    }

    /// Posts an operation to a chat, e.g. `op(id, json!({"operationName":"Complete"}))`.
    #[track_caller]
    pub fn op(&self, id: &str, body: Value) -> Response {
        self.post(&format!("/api/v2/chats/{id}"), &body)
    }

    #[track_caller]
    pub fn send_message(&self, id: &str, text: &str) -> Response {
        self.op(id, json!({"operationName": "SendMessage", "text": text}))
    }

    #[track_caller]
    pub fn complete(&self, id: &str) -> Response {
        self.op(id, json!({"operationName": "Complete"}))
    }

    /// GetChat's `chat` object (asserting success).
    #[track_caller]
    pub fn chat(&self, id: &str) -> Value {
        let res = self.get(&format!("/api/v2/chats/{id}"));
        assert_eq!(res.status, 200, "GetChat: {}", res.text());
        res.json()["chat"].clone()
    }

    #[track_caller]
    pub fn state(&self, id: &str) -> String {
        self.chat(id)["state"].as_str().unwrap().to_string()
    }

    /// GetTranscript without index: the messages not yet received.
    #[track_caller]
    pub fn poll(&self, id: &str) -> Vec<Value> {
        messages(&self.get(&format!("/api/v2/chats/{id}/messages")))
    }

    /// GetTranscript with `?index=N`.
    #[track_caller]
    pub fn transcript_from(&self, id: &str, index: u64) -> Vec<Value> {
        messages(&self.get(&format!("/api/v2/chats/{id}/messages?index={index}")))
    }

    /// The whole transcript, read through the admin API (moves no customer cursor).
    #[track_caller]
    pub fn all_messages(&self, id: &str) -> Vec<Value> {
        self.admin_chat(id)["messages"].as_array().unwrap().clone()
    }

    /// The admin detail of a chat (asserting success).
    #[track_caller]
    pub fn admin_chat(&self, id: &str) -> Value {
        let res = self.get(&format!("/__admin/chats/{id}"));
        assert_eq!(res.status, 200, "admin chat: {}", res.text());
        res.json()["chat"].clone()
    }

    /// Acts as the agent: `agent(id, json!({"action":"join","nickname":"Ann"}))`.
    #[track_caller]
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

/// Polls `check` until it returns Some, or panics naming `what` after `timeout`.
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

/// The messages of a successful GetTranscript answer.
#[track_caller]
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

// ---- the HTTP/1.1 client: one request per connection, every byte the test's, bounded in time ----

/// How long a request may take by default before it counts as a hang.
pub const TIMEOUT: Duration = Duration::from_secs(30);

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

    #[track_caller]
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

/// Sends a well-framed request (see `wire`) to `127.0.0.1:port` on a new connection and reads
/// its answer within `TIMEOUT`. `Err` when the connection is refused, or closed or cut before a
/// whole answer arrived, or nothing complete came in time.
pub fn try_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let how = Exchange { head: method == "HEAD", ..Exchange::default() };
    exchange(port, &wire(method, path, headers, body), how)
}

/// A request as a well-behaved client frames it: the request line, `Host`, `Connection: close`,
/// the headers given, a `Content-Length` unless those frame the body themselves (a
/// `Content-Length` or `Transfer-Encoding` of theirs), and the body.
pub fn wire(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    let mut framed = false;
    for (k, v) in headers {
        framed |=
            k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding");
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !framed {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// `body` in the chunked transfer coding, in chunks of at most `size` bytes, with the last chunk.
pub fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / size * 8 + 16);
    for piece in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// How `exchange` sends a request and reads its answer.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// The request is a HEAD: no body follows the answer's head.
    pub head: bool,
    /// Close the write side after sending (for a body shorter than its Content-Length).
    pub half_close: bool,
    /// How long the whole answer may take.
    pub limit: Duration,
}

impl Default for Exchange {
    fn default() -> Exchange {
        Exchange { head: false, half_close: false, limit: TIMEOUT }
    }
}

/// Sends `raw`, exactly these bytes, on a new connection and reads one answer: an interim
/// `100 Continue` is skipped, the body is read as its head frames it (Content-Length, chunked,
/// or until the server closes). A large `raw` is written from another thread, so a server that
/// answers before reading it all cannot deadlock the test.
pub fn exchange(port: u16, raw: &[u8], how: Exchange) -> Result<Response, String> {
    let buf = talk(port, raw, how.half_close, how.limit, |buf| response_complete(buf, how.head))?;
    parse_response(&buf, how.head)
}

/// Sends `raw` and reads everything the server sends until it closes the connection (several
/// answers to pipelined requests, say), within `limit`.
pub fn read_until_close(port: u16, raw: &[u8], limit: Duration) -> Result<Vec<u8>, String> {
    talk(port, raw, false, limit, |_| false)
}

/// What a socket's send buffer surely takes at once: written without a thread.
const SMALL: usize = 16 * 1024;

/// Writes `raw` and reads until `done` says the answer is whole, the server closes, or `limit`.
fn talk(
    port: u16,
    raw: &[u8],
    half_close: bool,
    limit: Duration,
    done: impl Fn(&[u8]) -> bool,
) -> Result<Vec<u8>, String> {
    let stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            // A signal arrived while connecting: try again.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot connect: {e}")),
        }
    };
    let send = move |mut writer: &TcpStream, bytes: &[u8]| {
        // A server that refuses early may close before reading everything: not an error here.
        let _ = writer.write_all(bytes);
        let _ = writer.flush();
        if half_close {
            let _ = writer.shutdown(Shutdown::Write);
        }
    };
    let sender = if raw.len() <= SMALL {
        send(&stream, raw);
        None
    } else {
        let writer = stream.try_clone().map_err(|e| format!("cannot clone the socket: {e}"))?;
        let bytes = raw.to_vec();
        Some(std::thread::spawn(move || send(&writer, &bytes)))
    };
    let started = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let late = |buf: &[u8]| {
        format!(
            "no complete answer within {limit:?} ({} bytes so far: {})",
            buf.len(),
            preview(buf)
        )
    };
    let result = loop {
        if done(&buf) {
            break Ok(());
        }
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            break Err(late(&buf));
        }
        let _ = stream.set_read_timeout(Some(left));
        match (&stream).read(&mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            // A signal arrived (a socket read with a timeout is not restarted): read on.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !buf.is_empty() => break Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break Err(late(&buf))
            }
            Err(e) => break Err(format!("reading failed: {e} ({} bytes so far)", buf.len())),
        }
    };
    // Unblocks the writer if the server stopped reading a large body without closing.
    let _ = stream.shutdown(Shutdown::Both);
    if let Some(sender) = sender {
        let _ = sender.join();
    }
    result.map(|()| buf)
}

type Headers = Vec<(String, String)>;

/// The final (non-1xx) response head in `buf`: status, headers, and where its body starts.
fn final_head(buf: &[u8]) -> Option<(u16, Headers, usize)> {
    let mut start = 0;
    loop {
        let end = start + buf[start..].windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let text = String::from_utf8_lossy(&buf[start..end - 4]).into_owned();
        let mut lines = text.split("\r\n");
        let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
        if (100..200).contains(&status) {
            // An interim answer (100 Continue): the real one follows.
            start = end;
            continue;
        }
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        return Some((status, headers, end));
    }
}

enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

fn framing(status: u16, headers: &[(String, String)], head: bool) -> Framing {
    let get = |name: &str| {
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    };
    if head || status == 204 || status == 304 {
        Framing::Empty
    } else if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        Framing::Chunked
    } else if let Some(len) = get("content-length").and_then(|v| v.parse().ok()) {
        Framing::Length(len)
    } else {
        Framing::UntilClose
    }
}

fn response_complete(buf: &[u8], head: bool) -> bool {
    let Some((status, headers, end)) = final_head(buf) else { return false };
    match framing(status, &headers, head) {
        Framing::Empty => true,
        Framing::Length(n) => buf.len() - end >= n,
        Framing::Chunked => dechunk(&buf[end..]).is_ok(),
        Framing::UntilClose => false,
    }
}

fn parse_response(buf: &[u8], head: bool) -> Result<Response, String> {
    let (status, headers, end) =
        final_head(buf).ok_or_else(|| format!("no complete response head in {}", preview(buf)))?;
    let rest = &buf[end..];
    let body = match framing(status, &headers, head) {
        // Whatever follows the head of a HEAD answer is reported as its (forbidden) body.
        Framing::Empty | Framing::UntilClose => rest.to_vec(),
        Framing::Length(n) if rest.len() >= n => rest[..n].to_vec(),
        Framing::Length(n) => {
            return Err(format!("the body was cut short: {} of {n} bytes", rest.len()))
        }
        Framing::Chunked => dechunk(rest)?,
    };
    Ok(Response { status, headers, body })
}

/// Decodes a chunked body; an error while it is incomplete or malformed.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let pos = data.windows(2).position(|w| w == b"\r\n").ok_or("incomplete chunk size")?;
        let size_text = String::from_utf8_lossy(&data[..pos]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[pos + 2..];
        if size == 0 {
            return if data.starts_with(b"\r\n") { Ok(out) } else { Err("incomplete end".into()) };
        }
        if data.len() < size + 2 {
            return Err("incomplete chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Bytes for a failure message: escaped, and cut in the middle when long.
pub fn preview(bytes: &[u8]) -> String {
    const KEEP: usize = 300;
    if bytes.len() <= 2 * KEEP {
        return bytes.escape_ascii().to_string();
    }
    format!(
        "{} …[{} bytes]… {}",
        bytes[..KEEP].escape_ascii(),
        bytes.len() - 2 * KEEP,
        bytes[bytes.len() - KEEP..].escape_ascii()
    )
}
