mod common;

// Hostile input (issue "Robustness"): requests no well-behaved widget sends — malformed,
// mistyped, oversized, badly framed, with traversal in ids and static paths, every method on
// every route — and, with `proptest`, requests no one listed. Each must get its answer in
// seconds, never a 5xx, always a GWS JSON error (`statusCode` + `statusMessage`) when refused,
// the status and code SPEC.md's error table gives where it gives one, and must change nothing.
//
// Every request goes over its own connection through `exchange` below rather than the
// harness's client, so that a hang is a reported failure after a few seconds (not a 30 s panic),
// a request can half-close its write side, and an interim `100 Continue` is skipped.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use common::{Response, Server};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};

/// The opt-in `--max-text` this table runs with, and the `--max-body` default.
const MAX_TEXT: usize = 16384;
const MAX_BODY: usize = 64 * 1024;
const TEN_MB: usize = 10 * 1024 * 1024;
/// How long one request may take before it counts as a hang.
const QUICK: Duration = Duration::from_secs(5);
/// The same for the 10 MB uploads (a debug build on a busy machine).
const SLOW: Duration = Duration::from_secs(20);

const OPERATIONS: [&str; 5] = [
    "RequestChat",
    "SendMessage",
    "SendStartTypingNotification",
    "SendStopTypingNotification",
    "Complete",
];
const ACTIONS: [&str; 8] =
    ["join", "message", "typingStarted", "typingStopped", "pushUrl", "notice", "leave", "complete"];
/// Strings that must never come back from the static-file server.
const SECRETS: [&str; 4] = ["[package]", "[dependencies]", "root:x:0:0", "fn main()"];

// ---- the wire: one request per connection, bounded in time ----

/// Sends `raw` on a new connection (from another thread, so a server that answers before
/// reading everything cannot deadlock the test), optionally closes the write side afterwards,
/// and reads one response within `limit`. `head`: the request was a HEAD (no body follows).
fn exchange(
    port: u16,
    raw: &[u8],
    head: bool,
    half_close: bool,
    limit: Duration,
) -> Result<Response, String> {
    let buf = talk(port, raw, half_close, limit, |buf| response_complete(buf, head))?;
    parse_response(&buf, head)
}

/// Writes `raw` and reads until `done` says the answer is whole, the server closes, or `limit`.
fn talk(
    port: u16,
    raw: &[u8],
    half_close: bool,
    limit: Duration,
    done: impl Fn(&[u8]) -> bool,
) -> Result<Vec<u8>, String> {
    let stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("cannot connect: {e}"))?;
    let mut writer = stream.try_clone().map_err(|e| format!("cannot clone the socket: {e}"))?;
    let bytes = raw.to_vec();
    let sender = std::thread::spawn(move || {
        // A server that refuses early may close before reading everything: not an error here.
        let _ = writer.write_all(&bytes);
        let _ = writer.flush();
        if half_close {
            let _ = writer.shutdown(Shutdown::Write);
        }
    });
    let started = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let result = loop {
        if done(&buf) {
            break Ok(());
        }
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            break Err(format!(
                "no complete answer within {limit:?} ({} bytes so far: {})",
                buf.len(),
                preview(&buf)
            ));
        }
        let _ = stream.set_read_timeout(Some(left));
        match (&stream).read(&mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !buf.is_empty() => break Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break Err(format!(
                    "no complete answer within {limit:?} ({} bytes so far: {})",
                    buf.len(),
                    preview(&buf)
                ))
            }
            Err(e) => break Err(format!("reading failed: {e} ({} bytes so far)", buf.len())),
        }
    };
    // Unblocks the writer if the server stopped reading a large body without closing.
    let _ = stream.shutdown(Shutdown::Both);
    let _ = sender.join();
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
fn preview(bytes: &[u8]) -> String {
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

fn show(res: &Response) -> String {
    format!("HTTP {} {}", res.status, preview(&res.body))
}

/// A request with `Connection: close` and a Content-Length, as a well-framed client sends it.
fn wire(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    raw
}

fn send(port: u16, method: &str, target: &str, body: &[u8]) -> Result<Response, String> {
    let raw = wire(method, target, &[("Content-Type", "application/json")], body);
    exchange(port, &raw, method == "HEAD", false, QUICK)
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 1000 + 16);
    for piece in body.chunks(64 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// ---- what every answer must look like ----

fn is_json_type(res: &Response) -> bool {
    res.header("Content-Type").is_some_and(|v| v.starts_with("application/json"))
}

/// Checks a GWS error body (JSON object, integer non-zero `statusCode`, non-empty
/// `statusMessage`, JSON content type) and returns its `statusCode`.
fn gws_error(res: &Response) -> Result<i64, String> {
    let body: Value = serde_json::from_slice(&res.body)
        .map_err(|e| format!("the error body is not JSON ({e})"))?;
    let code = body
        .get("statusCode")
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("no integer statusCode in the error body {body}"))?;
    if code == 0 {
        return Err(format!("statusCode 0 in an error answer: {body}"));
    }
    let message = body.get("statusMessage").and_then(Value::as_str).unwrap_or_default();
    if message.trim().is_empty() {
        return Err(format!("no statusMessage in the error body {body}"));
    }
    if !is_json_type(res) {
        return Err(format!("Content-Type {:?} on a JSON error", res.header("Content-Type")));
    }
    Ok(code)
}

/// The GWS codes SPEC.md's table allows with each HTTP status.
fn codes_for(http: u16) -> &'static [i64] {
    match http {
        400 => &[1, 2],
        401 => &[3],
        404 => &[6],
        405 | 413 => &[2],
        503 => &[4],
        // Not in the table (e.g. 417, 431): whatever the rewrite gives, but a GWS code.
        _ => &[1, 2, 3, 4, 6],
    }
}

/// The contract of every answer, for the property tests: no 5xx; an error is a GWS JSON error
/// whose code fits the HTTP status; an API answer is JSON with an integer `statusCode`, which is
/// 0 exactly when the status is 200; a HEAD answer has no body. Returns the `statusCode`.
fn contract(method: &str, target: &str, res: &Response) -> Result<Option<i64>, String> {
    if res.status >= 500 {
        return Err(format!("a server error: {}", show(res)));
    }
    if res.header("Set-Cookie").is_some() {
        return Err(format!("a Set-Cookie header: {:?}", res.headers));
    }
    if method == "HEAD" {
        if !res.body.is_empty() {
            return Err(format!("a body in the answer to HEAD: {}", show(res)));
        }
        if res.status >= 400 && !is_json_type(res) {
            return Err(format!("a HEAD error without the JSON content type: {:?}", res.headers));
        }
        return Ok(None);
    }
    if res.status >= 400 {
        let code = gws_error(res).map_err(|e| format!("{e}: {}", show(res)))?;
        if !codes_for(res.status).contains(&code) {
            return Err(format!("statusCode {code} does not go with HTTP {}", res.status));
        }
        return Ok(Some(code));
    }
    let api = target.starts_with("/api/") || target.starts_with("/__admin/");
    let json: Option<Value> = serde_json::from_slice(&res.body).ok();
    let code = json.as_ref().and_then(|v| v.get("statusCode")).and_then(Value::as_i64);
    if api && method != "OPTIONS" && code.is_none() {
        return Err(format!("an API answer without an integer statusCode: {}", show(res)));
    }
    if code == Some(0) && res.status != 200 {
        return Err(format!("statusCode 0 with HTTP {}", res.status));
    }
    if res.status == 200 && code.is_some_and(|c| c != 0) {
        return Err(format!("HTTP 200 with statusCode {code:?}"));
    }
    Ok(code)
}

/// Lines of the emulator's log and stderr that tell of a panic.
fn panics_in_logs(server: &Server) -> Vec<String> {
    let log = server.log_text();
    let stderr = std::fs::read_to_string(server.dir.path().join("stderr.txt")).unwrap_or_default();
    log.lines().chain(stderr.lines()).filter(|l| l.contains("panicked")).map(String::from).collect()
}

#[track_caller]
fn assert_still_healthy(server: &Server) {
    let res = server.get("/__admin/health");
    assert_eq!(res.status, 200, "health after the hostile requests: {}", res.text());
    assert_eq!(res.json()["status"], "ok", "health: {}", res.text());
    let panics = panics_in_logs(server);
    assert!(panics.is_empty(), "the emulator panicked:\n{}", panics.join("\n"));
}

// ---- the table ----

/// What a hostile request must get.
#[derive(Debug, Clone)]
enum Want {
    /// A success (or redirect) with this HTTP status.
    Ok(u16),
    /// A GWS error with this HTTP status and `statusCode`.
    Error(u16, i64),
    /// Any of these.
    AnyOf(Vec<Want>),
    /// Some 4xx GWS error (SPEC.md does not say which, e.g. for static files).
    AnyError,
    /// Refused by actix-http's HTTP/1 parser before the application sees the request (an
    /// invalid request line or header, conflicting framing): any 4xx, and then an empty body is
    /// accepted too, since no handler or middleware of the emulator ever runs. Each such answer
    /// is listed when the table has run.
    Protocol,
}

impl Want {
    fn matches(&self, status: u16, code: Option<i64>, head: bool) -> bool {
        match self {
            Want::Ok(s) => status == *s,
            Want::Error(h, c) => status == *h && (head || code == Some(*c)),
            Want::AnyOf(all) => all.iter().any(|w| w.matches(status, code, head)),
            Want::AnyError => (400..500).contains(&status) && (head || code.is_some()),
            Want::Protocol => (400..500).contains(&status),
        }
    }

    fn allows_protocol(&self) -> bool {
        match self {
            Want::Protocol => true,
            Want::AnyOf(all) => all.iter().any(Want::allows_protocol),
            _ => false,
        }
    }
}

fn err(http: u16, code: i64) -> Want {
    Want::Error(http, code)
}

fn either(a: Want, b: Want) -> Want {
    Want::AnyOf(vec![a, b])
}

/// One row: a request and what it must get.
struct Case {
    name: String,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send the body with `Transfer-Encoding: chunked` instead of a Content-Length.
    chunked: bool,
    /// Exact bytes for the wire instead of method/path/headers/body.
    raw: Option<Vec<u8>>,
    /// Close the write side after sending (for a Content-Length longer than the body).
    half_close: bool,
    limit: Duration,
    want: Want,
    /// Strings the answer must not contain.
    forbid: Vec<&'static str>,
}

fn case(name: &str, method: &str, path: &str, body: impl Into<Vec<u8>>, want: Want) -> Case {
    Case {
        name: name.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        headers: Vec::new(),
        body: body.into(),
        chunked: false,
        raw: None,
        half_close: false,
        limit: QUICK,
        want,
        forbid: Vec::new(),
    }
}

/// A row sent as exactly `raw` (`method` says whether it is a HEAD).
fn raw_case(name: &str, method: &str, raw: impl Into<Vec<u8>>, want: Want) -> Case {
    let mut c = case(name, method, "", Vec::new(), want);
    c.raw = Some(raw.into());
    c
}

impl Case {
    fn header(mut self, name: &str, value: &str) -> Case {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn chunked(mut self) -> Case {
        self.chunked = true;
        self
    }

    fn half_close(mut self) -> Case {
        self.half_close = true;
        self
    }

    fn slow(mut self) -> Case {
        self.limit = SLOW;
        self
    }

    fn forbid(mut self, secrets: &[&'static str]) -> Case {
        self.forbid.extend_from_slice(secrets);
        self
    }

    fn wire(&self) -> Vec<u8> {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n",
            self.method, self.path
        );
        let framed = self.headers.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
        });
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if self.chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
        } else if !framed {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if self.chunked {
            out.extend_from_slice(&chunked(&self.body));
        } else {
            out.extend_from_slice(&self.body);
        }
        out
    }

    /// What is wrong with `res` as the answer to this row (empty: nothing). Protocol-level
    /// refusals with an empty body are noted in `protocol`.
    fn judge(&self, res: &Response, protocol: &mut Vec<String>) -> Vec<String> {
        let head = self.method == "HEAD";
        let mut problems = Vec::new();
        if res.status >= 500 {
            problems.push("a server error (5xx)".to_string());
        }
        if res.header("Set-Cookie").is_some() {
            problems.push("a Set-Cookie header (header injection?)".to_string());
        }
        if head && !res.body.is_empty() {
            problems.push("a body in the answer to HEAD".to_string());
        }
        let mut code = None;
        if res.status >= 400 {
            if res.body.is_empty() && !head && self.want.allows_protocol() && res.status < 500 {
                protocol.push(format!("{}: HTTP {}, empty body", self.name, res.status));
            } else if head {
                if !is_json_type(res) {
                    problems.push("a HEAD error without the JSON content type".to_string());
                }
            } else {
                match gws_error(res) {
                    Ok(c) => code = Some(c),
                    Err(e) => problems.push(e),
                }
            }
        } else if let Ok(v) = serde_json::from_slice::<Value>(&res.body) {
            code = v.get("statusCode").and_then(Value::as_i64);
            if code == Some(0) && res.status != 200 {
                problems.push(format!("statusCode 0 with HTTP {}", res.status));
            }
        }
        if !self.want.matches(res.status, code, head) {
            problems.push(format!(
                "expected {:?}, got HTTP {} statusCode {code:?}",
                self.want, res.status
            ));
        }
        for secret in &self.forbid {
            if res.body.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                problems.push(format!("the answer contains {secret:?}: a file outside client/"));
            }
        }
        problems
    }
}

/// The chat every row aims at: an agent has joined, both sides have talked, and both read
/// cursors are at the end (so a GET of either transcript moves nothing).
fn existing_chat(server: &Server) -> String {
    let res = server.post(
        "/api/v2/chats",
        &json!({"operationName": "RequestChat", "nickname": "James", "subject": "hostile",
                "userData": {"plan": "gold", "tags": ["a", "b"]},
                "endpoint": "https://shop.example/cart"}),
    );
    assert_eq!(res.status, 200, "RequestChat: {}", res.text());
    let id = res.json()["id"].as_str().unwrap().to_string();
    let res = server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    assert_eq!(res.status, 200, "agent join: {}", res.text());
    let res = server.send_message(&id, "Hello <b>there</b> ' OR 1=1 --");
    assert_eq!(res.status, 200, "SendMessage: {}", res.text());
    let res = server.agent(&id, json!({"action": "message", "text": "Hi James"}));
    assert_eq!(res.status, 200, "agent message: {}", res.text());
    assert!(!server.poll(&id).is_empty());
    let res = server.get(&format!("/__admin/chats/{id}/messages"));
    assert_eq!(res.status, 200, "agent poll: {}", res.text());
    id
}

/// The chat's whole admin detail, without panicking (the table goes on after a failure).
fn detail(port: u16, id: &str) -> Result<Value, String> {
    let res = send(port, "GET", &format!("/__admin/chats/{id}"), b"")?;
    if res.status != 200 {
        return Err(format!("admin detail: {}", show(&res)));
    }
    serde_json::from_slice::<Value>(&res.body)
        .map(|v| v["chat"].clone())
        .map_err(|e| format!("admin detail is not JSON: {e}"))
}

fn chat_count(port: u16) -> Result<usize, String> {
    let res = send(port, "GET", "/__admin/chats?limit=10000", b"")?;
    let body: Value = serde_json::from_slice(&res.body).map_err(|e| format!("chat list: {e}"))?;
    body["chats"].as_array().map(Vec::len).ok_or_else(|| format!("chat list: {}", show(&res)))
}

/// Replaces `field` of `base` (a JSON object) with `value`.
fn with(base: &Value, field: &str, value: Value) -> String {
    let mut body = base.clone();
    body[field] = value;
    body.to_string()
}

/// JSON text `{"operationName":"SendMessage","text":"<text>"}` for a long `text` (no escaping
/// needed).
fn send_body(text: &str) -> String {
    format!(r#"{{"operationName":"SendMessage","text":"{text}"}}"#)
}

/// Every row of the table, aimed at the chat `id`.
fn table(id: &str) -> Vec<Case> {
    let chats = "/api/v2/chats";
    let chat = format!("/api/v2/chats/{id}");
    let transcript = format!("{chat}/messages");
    let admin_chat = format!("/__admin/chats/{id}");
    let agent = format!("{admin_chat}/agent");
    let admin_messages = format!("{admin_chat}/messages");
    let unknown = "3f1c2b9a-5d4e-4f6a-8b7c-9d0e1f2a3b4c";
    let complete = r#"{"operationName":"Complete"}"#;
    let mut t = Vec::new();

    // -- no body, empty body --
    for (what, path) in [("a chat operation", chat.as_str()), ("RequestChat", chats)] {
        let raw = format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        t.push(raw_case(
            &format!("{what} with no body and no Content-Length"),
            "POST",
            raw,
            err(400, 1),
        ));
        t.push(case(&format!("{what} with Content-Length: 0"), "POST", path, "", err(400, 1)));
    }
    let raw = format!("POST {agent} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    t.push(raw_case("agent action with no body and no Content-Length", "POST", raw, err(400, 1)));
    t.push(case("a body of whitespace and newlines", "POST", &chat, " \r\n\t\n ", err(400, 1)));

    // -- not JSON --
    for (what, body) in [
        ("truncated JSON", r#"{"operationName":"SendMessage","text":"hi""#),
        ("single quotes", "{'operationName':'Complete'}"),
        ("a trailing comma", r#"{"operationName":"Complete",}"#),
        ("two objects", r#"{"operationName":"Complete"} {"operationName":"Complete"}"#),
        ("garbage after the object", r#"{"operationName":"Complete"}garbage"#),
        ("a comment before the object", r#"/* hi */{"operationName":"Complete"}"#),
        ("a NaN literal", r#"{"operationName":"SendMessage","text":NaN}"#),
        ("an unquoted key", r#"{operationName:"Complete"}"#),
        ("a form-encoded body", "operationName=Complete"),
        ("XML", "<operationName>Complete</operationName>"),
        ("a lone surrogate escape", r#"{"operationName":"SendMessage","text":"\ud800"}"#),
        ("a BOM before the object", "\u{feff}{\"operationName\":\"SendMessage\"}"),
    ] {
        t.push(case(&format!("body: {what}"), "POST", &chat, body, err(400, 1)));
    }
    // -- JSON of the wrong kind --
    for (what, body) in [
        ("an array around a valid operation", format!("[{complete}]")),
        ("a string", r#""Complete""#.to_string()),
        ("a number", "42".to_string()),
        ("true", "true".to_string()),
        ("null", "null".to_string()),
        ("an object inside a string", format!("{:?}", complete)),
    ] {
        t.push(case(&format!("body: {what}"), "POST", &chat, body.clone(), err(400, 1)));
        t.push(case(&format!("RequestChat body: {what}"), "POST", chats, body, err(400, 1)));
    }

    // -- wrong types in every field (everything else in the body valid) --
    let request_chat =
        json!({"operationName": "RequestChat", "nickname": "Eve", "subject": "hostile"});
    let cases: Vec<(&str, Value, Want)> = vec![
        ("operationName", json!(1), err(400, 2)),
        ("operationName", json!(["RequestChat"]), err(400, 2)),
        ("operationName", json!({"name": "RequestChat"}), err(400, 2)),
        ("operationName", json!(true), err(400, 2)),
        ("operationName", Value::Null, err(400, 1)),
        ("operationName", json!("RequestChat\u{0}"), err(400, 2)),
        ("operationName", json!("requestchat"), err(400, 2)),
        ("nickname", json!(42), err(400, 2)),
        ("nickname", json!(["Eve"]), err(400, 2)),
        ("nickname", json!({"first": "Eve"}), err(400, 2)),
        ("nickname", json!(false), err(400, 2)),
        ("nickname", Value::Null, err(400, 1)),
        ("nickname", json!("\u{3000}\u{a0}\u{2028}\t\n"), err(400, 1)),
        ("subject", json!(7), err(400, 2)),
        ("subject", json!(["hostile"]), err(400, 2)),
        ("subject", json!({"a": 1}), err(400, 2)),
        ("subject", json!(true), err(400, 2)),
        ("userData", json!("a string"), err(400, 2)),
        ("userData", json!([1, 2]), err(400, 2)),
        ("userData", json!(3.5), err(400, 2)),
        ("userData", json!(true), err(400, 2)),
        ("endpoint", json!(8080), err(400, 2)),
        ("endpoint", json!({"url": "https://x"}), err(400, 2)),
        ("endpoint", json!(["https://x"]), err(400, 2)),
        ("endpoint", json!(false), err(400, 2)),
    ];
    for (field, value, want) in cases {
        let body = with(&request_chat, field, value.clone());
        t.push(case(&format!("RequestChat with {field} = {value}"), "POST", chats, body, want));
    }
    let send = json!({"operationName": "SendMessage", "text": "hostile"});
    let cases: Vec<(&str, Value, Want)> = vec![
        ("operationName", json!(["SendMessage"]), err(400, 2)),
        ("operationName", json!({"op": "SendMessage"}), err(400, 2)),
        ("operationName", json!(0), err(400, 2)),
        ("operationName", json!(false), err(400, 2)),
        ("operationName", json!("Send\u{0}Message"), err(400, 2)),
        ("operationName", json!(" SendMessage"), err(400, 2)),
        ("operationName", json!("RequestChat"), err(400, 2)),
        ("text", json!(42), err(400, 2)),
        ("text", json!(-1.5e300), err(400, 2)),
        ("text", json!(true), err(400, 2)),
        ("text", json!(["hostile"]), err(400, 2)),
        ("text", json!({"body": "hostile"}), err(400, 2)),
        ("text", Value::Null, err(400, 1)),
        ("text", json!("\u{3000}\u{a0}\u{2028}\u{85}\r\n"), err(400, 1)),
    ];
    for (field, value, want) in cases {
        let body = with(&send, field, value.clone());
        t.push(case(&format!("SendMessage with {field} = {value}"), "POST", &chat, body, want));
    }
    for (what, body, want) in [
        (
            "a 30-digit integer text",
            r#"{"operationName":"SendMessage","text":123456789012345678901234567890}"#,
            err(400, 2),
        ),
        (
            "text 1e999 (out of range)",
            r#"{"operationName":"SendMessage","text":1e999}"#,
            either(err(400, 1), err(400, 2)),
        ),
        ("Complete as an array", r#"{"operationName":["Complete"]}"#, err(400, 2)),
        ("Complete as an object key", r#"{"operationName":{"Complete":true}}"#, err(400, 2)),
        ("typing as a number", r#"{"operationName":1}"#, err(400, 2)),
        (
            "text twice, both wrong",
            r#"{"operationName":"SendMessage","text":5,"text":[]}"#,
            err(400, 2),
        ),
    ] {
        t.push(case(&format!("SendMessage: {what}"), "POST", &chat, body, want));
    }
    let deep = format!(
        r#"{{"operationName":"SendMessage","text":{}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    t.push(case(
        "SendMessage: text nested 200 deep",
        "POST",
        &chat,
        deep,
        either(err(400, 1), err(400, 2)),
    ));
    let agent_message = json!({"action": "message", "text": "hostile"});
    let cases: Vec<(&str, Value, Want)> = vec![
        ("action", json!(5), err(400, 2)),
        ("action", Value::Null, err(400, 1)),
        ("action", json!(["complete"]), err(400, 2)),
        ("action", json!({"complete": true}), err(400, 2)),
        ("action", json!("complete\u{0}"), err(400, 2)),
        ("action", json!("COMPLETE"), err(400, 2)),
        ("text", json!([]), err(400, 2)),
        ("text", json!(12), err(400, 2)),
        ("text", Value::Null, err(400, 1)),
    ];
    for (field, value, want) in cases {
        let body = with(&agent_message, field, value.clone());
        t.push(case(&format!("agent message with {field} = {value}"), "POST", &agent, body, want));
    }
    for (what, body) in [
        ("join with nickname 5", json!({"action": "join", "nickname": 5})),
        ("pushUrl javascript:", json!({"action": "pushUrl", "url": "javascript:alert(1)"})),
        ("pushUrl with a NUL", json!({"action": "pushUrl", "url": "http://a\u{0}b.example/"})),
        ("pushUrl data:", json!({"action": "pushUrl", "url": "data:text/html,<script>"})),
        ("pushUrl as an object", json!({"action": "pushUrl", "url": {"href": "http://x"}})),
        ("pushUrl as a number", json!({"action": "pushUrl", "url": 1})),
        ("notice text true", json!({"action": "notice", "text": true})),
    ] {
        t.push(case(&format!("agent {what}"), "POST", &agent, body.to_string(), err(400, 2)));
    }

    // -- NUL bytes and invalid UTF-8 in the body --
    let raw_bodies: Vec<(&str, Vec<u8>)> = vec![
        ("a NUL before the object", [b"\0".as_slice(), complete.as_bytes()].concat()),
        ("a NUL after the object", [complete.as_bytes(), b"\0"].concat()),
        ("a raw NUL inside a string", b"{\"operationName\":\"Comp\0lete\"}".to_vec()),
        (
            "a raw NUL inside text",
            b"{\"operationName\":\"SendMessage\",\"text\":\"a\0b\"}".to_vec(),
        ),
        ("bytes that are not UTF-8", b"\xff\xfe\xfd\xfc".to_vec()),
        (
            "invalid UTF-8 inside text",
            b"{\"operationName\":\"SendMessage\",\"text\":\"\xc3\x28\"}".to_vec(),
        ),
        (
            "an overlong UTF-8 encoding inside text",
            b"{\"operationName\":\"SendMessage\",\"text\":\"\xc0\xaf\"}".to_vec(),
        ),
        ("invalid UTF-8 in a key", b"{\"operation\xffName\":\"Complete\"}".to_vec()),
        ("a UTF-8 surrogate inside text", b"{\"text\":\"\xed\xa0\x80\"}".to_vec()),
    ];
    for (what, body) in raw_bodies {
        t.push(case(&format!("body: {what}"), "POST", &chat, body, err(400, 1)));
    }
    let utf16: Vec<u8> = complete.encode_utf16().flat_map(u16::to_le_bytes).collect();
    t.push(
        case(
            "Complete encoded in UTF-16 with charset=utf-16",
            "POST",
            &chat,
            [[0xff, 0xfe].as_slice(), &utf16].concat(),
            err(400, 1),
        )
        .header("Content-Type", "application/json; charset=utf-16"),
    );
    t.push(
        case(
            "charset=utf-16 on a UTF-8 body without text",
            "POST",
            &chat,
            r#"{"operationName":"SendMessage"}"#,
            err(400, 1),
        )
        .header("Content-Type", "application/json; charset=utf-16"),
    );

    // -- oversized: 10 MB bodies, deep nesting, texts over --max-text --
    let huge_send = send_body(&"x".repeat(TEN_MB)).into_bytes();
    t.push(
        case(
            "a 10 MB SendMessage with Content-Length",
            "POST",
            &chat,
            huge_send.clone(),
            err(413, 2),
        )
        .slow(),
    );
    t.push(
        case("a 10 MB SendMessage, chunked", "POST", &chat, huge_send, err(413, 2))
            .chunked()
            .slow(),
    );
    let huge_request = format!(
        r#"{{"operationName":"RequestChat","nickname":"Eve","subject":"{}"}}"#,
        "s".repeat(TEN_MB)
    );
    t.push(case("a 10 MB RequestChat", "POST", chats, huge_request, err(413, 2)).slow());
    let huge_agent = format!(r#"{{"action":"message","text":"{}"}}"#, "a".repeat(TEN_MB));
    t.push(
        case("a 10 MB agent message, chunked", "POST", &agent, huge_agent, err(413, 2))
            .chunked()
            .slow(),
    );
    t.push(case("100 000 [ (over --max-body)", "POST", &chat, "[".repeat(100_000), err(413, 2)));
    t.push(case("60 000 [ (under --max-body)", "POST", &chat, "[".repeat(60_000), err(400, 1)));
    t.push(case("10 000 nested objects", "POST", &chat, r#"{"a":"#.repeat(10_000), err(400, 1)));
    t.push(case(
        "text opening 30 000 arrays",
        "POST",
        &chat,
        format!(r#"{{"operationName":"SendMessage","text":{}"#, "[".repeat(30_000)),
        err(400, 1),
    ));
    t.push(case(
        "userData nested 5 000 deep",
        "POST",
        chats,
        format!(
            r#"{{"operationName":"RequestChat","nickname":"Eve","userData":{}1{}}}"#,
            r#"{"a":"#.repeat(5_000),
            "}".repeat(5_000)
        ),
        either(err(400, 1), err(400, 2)),
    ));
    let over = MAX_TEXT + 1;
    t.push(case("text of 16 385 x", "POST", &chat, send_body(&"x".repeat(over)), err(400, 2)));
    t.push(case(
        "text of 16 385 中 (3 bytes each)",
        "POST",
        &chat,
        send_body(&"中".repeat(over)),
        err(400, 2),
    ));
    t.push(case(
        "text of 16 384 x and one emoji (characters, not bytes)",
        "POST",
        &chat,
        send_body(&format!("{}😀", "x".repeat(MAX_TEXT))),
        err(400, 2),
    ));
    t.push(case(
        "agent message of 16 385 characters",
        "POST",
        &agent,
        format!(r#"{{"action":"message","text":"{}"}}"#, "m".repeat(over)),
        err(400, 2),
    ));
    t.push(case(
        "agent notice of 16 385 é",
        "POST",
        &agent,
        format!(r#"{{"action":"notice","text":"{}"}}"#, "é".repeat(over)),
        err(400, 2),
    ));

    // -- unknown and malformed chat ids --
    let simple: String = id.chars().filter(|c| *c != '-').collect();
    let ten_kb = "a".repeat(10 * 1024);
    for (what, method, path, body) in [
        ("an unknown chat", "GET", format!("/api/v2/chats/{unknown}"), ""),
        ("Complete on an unknown chat", "POST", format!("/api/v2/chats/{unknown}"), complete),
        (
            "the transcript of an unknown chat",
            "GET",
            format!("/api/v2/chats/{unknown}/messages"),
            "",
        ),
        ("admin detail of an unknown chat", "GET", format!("/__admin/chats/{unknown}"), ""),
        (
            "agent complete on an unknown chat",
            "POST",
            format!("/__admin/chats/{unknown}/agent"),
            r#"{"action":"complete"}"#,
        ),
        ("the nil UUID", "GET", "/api/v2/chats/00000000-0000-0000-0000-000000000000".into(), ""),
        ("../../etc/passwd", "GET", "/api/v2/chats/../../etc/passwd".into(), ""),
        ("%2e%2e%2f traversal", "GET", "/api/v2/chats/%2e%2e%2f%2e%2e%2fetc%2fpasswd".into(), ""),
        ("..%2f traversal", "GET", "/api/v2/chats/..%2f..%2fetc%2fpasswd/messages".into(), ""),
        ("..%2f traversal in admin", "GET", "/__admin/chats/..%2f..%2fetc%2fpasswd".into(), ""),
        ("Complete on ..%2f<id>", "POST", format!("/api/v2/chats/..%2f{id}"), complete),
        ("Complete on <id>%2f..", "POST", format!("/api/v2/chats/{id}%2f.."), complete),
        ("a 10 KB id", "GET", format!("/api/v2/chats/{ten_kb}"), ""),
        ("Complete on a 10 KB id", "POST", format!("/api/v2/chats/{ten_kb}"), complete),
        (
            "an id with a space inside",
            "GET",
            format!("/api/v2/chats/{}%20{}", &id[..8], &id[8..]),
            "",
        ),
        ("the id with a trailing space", "POST", format!("/api/v2/chats/{id}%20"), complete),
        ("the id in double quotes", "GET", format!("/api/v2/chats/%22{id}%22"), ""),
        ("the id in single quotes", "GET", format!("/api/v2/chats/'{id}'"), ""),
        ("SQL in the id", "POST", format!("/api/v2/chats/{id}'%20OR%20'1'='1"), complete),
        ("the id and %00", "POST", format!("/api/v2/chats/{id}%00"), complete),
        ("%00 alone", "GET", "/api/v2/chats/%00".into(), ""),
        (
            "the id and a CRLF header",
            "GET",
            format!("/api/v2/chats/{id}%0d%0aSet-Cookie:%20x=1"),
            "",
        ),
        ("%ff%fe (invalid UTF-8, encoded)", "GET", "/api/v2/chats/%ff%fe".into(), ""),
        ("*", "GET", "/api/v2/chats/*".into(), ""),
        ("..", "POST", "/api/v2/chats/..".into(), complete),
        // README: "Chat ids are UUID v4 …; anything else is an unknown chat (404/6)".
        ("the id as urn:uuid:", "GET", format!("/api/v2/chats/urn:uuid:{id}"), ""),
        ("the id in braces", "GET", format!("/api/v2/chats/%7B{id}%7D"), ""),
        ("the id without hyphens", "GET", format!("/api/v2/chats/{simple}"), ""),
    ] {
        t.push(case(&format!("id: {what}"), method, &path, body, err(404, 6)).forbid(&SECRETS));
    }
    // Invalid bytes on the request line itself: actix-http refuses them before routing.
    for (what, target) in [
        ("invalid UTF-8 bytes in the path", b"/api/v2/chats/\xff\xfe".to_vec()),
        ("a raw NUL in the path", [chat.as_bytes(), b"\0"].concat()),
        ("a raw space in the id", b"/api/v2/chats/a b".to_vec()),
        ("invalid UTF-8 bytes in the query", [transcript.as_bytes(), b"?index=\xff"].concat()),
    ] {
        let raw = [
            b"GET ".as_slice(),
            &target,
            b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        ]
        .concat();
        t.push(raw_case(&format!("request line: {what}"), "GET", raw, Want::Protocol));
    }

    // -- bad index values --
    let lenient = either(Want::Ok(200), err(400, 2));
    for (query, want) in [
        ("index=-1", err(400, 2)),
        ("index=1e3", err(400, 2)),
        ("index=0x1", err(400, 2)),
        ("index=1.0", err(400, 2)),
        ("index=99999999999999999999999999", err(400, 2)),
        ("index=9223372036854775808", err(400, 2)),
        ("index=NaN", err(400, 2)),
        ("index=Infinity", err(400, 2)),
        ("index=", err(400, 2)),
        ("index", err(400, 2)),
        ("index=%00", err(400, 2)),
        ("index=1%00", err(400, 2)),
        ("index=%ff", err(400, 2)),
        ("index=%EF%BC%91", err(400, 2)),
        ("index=--1", err(400, 2)),
        ("index=%2D1", err(400, 2)),
        ("index=1;index=2", err(400, 2)),
        // The spec is silent on these: taking one of the values, or trimming, is fine.
        ("index=%201", lenient.clone()),
        ("index=+1", lenient.clone()),
        ("index=1&index=2", lenient.clone()),
        ("index=1&index=x", lenient.clone()),
        ("index=9223372036854775807", Want::Ok(200)),
    ] {
        t.push(case(
            &format!("GetTranscript ?{query}"),
            "GET",
            &format!("{transcript}?{query}"),
            "",
            want,
        ));
    }
    for query in ["index=-1", "index=abc", "index=", "index=1e3"] {
        let path = format!("{admin_messages}?{query}");
        t.push(case(&format!("agent transcript ?{query}"), "GET", &path, "", err(400, 2)));
    }
    for query in [
        "limit=0",
        "limit=-1",
        "limit=10001",
        "limit=1e3",
        "limit=%00",
        "state=idle",
        "state=Idle%00",
        "state=%ff",
    ] {
        let path = format!("/__admin/chats?{query}");
        t.push(case(&format!("admin chat list ?{query}"), "GET", &path, "", err(400, 2)));
    }

    // -- every method on every route --
    // `DELETE /__admin/chats` is left out: it is the documented reset and deletes every chat.
    // POST goes with an empty body; every other method carries the body that would do the most
    // damage if it were taken for a POST.
    const METHODS: [&str; 9] =
        ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW"];
    let request_body = r#"{"operationName":"RequestChat","nickname":"Eve"}"#.to_string();
    let routes: Vec<(String, &str, String)> = vec![
        (chats.to_string(), "POST", request_body),
        (chat.clone(), "GET POST", complete.to_string()),
        (transcript.clone(), "GET", complete.to_string()),
        ("/__admin/health".to_string(), "GET", "{}".to_string()),
        ("/__admin/chats".to_string(), "GET", "{}".to_string()),
        (admin_chat.clone(), "GET", r#"{"action":"complete"}"#.to_string()),
        (agent.clone(), "POST", r#"{"action":"complete"}"#.to_string()),
        (admin_messages.clone(), "GET", "{}".to_string()),
        ("/client/".to_string(), "static", complete.to_string()),
        ("/".to_string(), "redirect", complete.to_string()),
    ];
    for (path, allowed, damage) in &routes {
        for method in METHODS {
            if path == "/__admin/chats" && method == "DELETE" {
                continue;
            }
            let wrong = err(405, 2);
            let want = match (*allowed, method) {
                (_, "OPTIONS") => Want::Ok(204),
                ("redirect", "GET") => Want::Ok(302),
                // Not an API route: 404 (no such resource) or 405 both fit the spec.
                ("redirect", _) => either(err(404, 6), err(405, 2)),
                ("static", "GET") => Want::Ok(200),
                ("static", "HEAD") => either(Want::Ok(200), wrong),
                ("static", _) => wrong,
                (allowed, "HEAD") if allowed.contains("GET") => either(Want::Ok(200), wrong),
                (allowed, m) if allowed.split(' ').any(|a| a == m) => {
                    if m == "POST" {
                        err(400, 1)
                    } else {
                        Want::Ok(200)
                    }
                }
                _ => wrong,
            };
            let body = if method == "POST" { String::new() } else { damage.clone() };
            t.push(case(&format!("{method} {path}"), method, path, body, want));
        }
    }

    // -- odd headers and framing --
    let big = "v".repeat(16 * 1024);
    t.push(case("a 16 KB header value", "GET", &chat, "", Want::Ok(200)).header("X-Big", &big));
    t.push(case("a 16 KB apikey", "GET", &chat, "", Want::Ok(200)).header("apikey", &big));
    t.push(
        case(
            "a 16 KB header on a bad POST",
            "POST",
            &chat,
            r#"{"operationName":"SendMessage"}"#,
            err(400, 1),
        )
        .header("X-Big", &big),
    );
    t.push(
        case("a 40 KB header value", "GET", &chat, "", either(Want::Ok(200), Want::Protocol))
            .header("X-Big", &"w".repeat(40 * 1024)),
    );
    let mut many = case("200 headers", "GET", &chat, "", Want::Protocol);
    for i in 0..200 {
        many = many.header(&format!("X-H{i}"), "v");
    }
    t.push(many);
    t.push(
        case("two Content-Types", "POST", &chat, r#"{"operationName":"SendMessage"}"#, err(400, 1))
            .header("Content-Type", "application/json")
            .header("Content-Type", "text/plain"),
    );
    t.push(
        case("a garbage Content-Type", "POST", &chat, "{}", err(400, 1))
            .header("Content-Type", ";;;===;charset"),
    );
    t.push(
        case(
            "a multipart body with operationName=Complete",
            "POST",
            &chat,
            "--x\r\nContent-Disposition: form-data; name=\"operationName\"\r\n\r\nComplete\r\n--x--\r\n",
            err(400, 1),
        )
        .header("Content-Type", "multipart/form-data; boundary=x"),
    );
    t.push(
        case(
            "Content-Encoding: gzip on a non-gzip body",
            "POST",
            &chat,
            b"\x1f\x8b\x08\x00garbage".to_vec(),
            err(400, 1),
        )
        .header("Content-Encoding", "gzip"),
    );
    let chunked_head = format!(
        "POST {chat} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for (what, chunks, half) in [
        ("a chunk size that is not hex", "zz\r\nabc\r\n0\r\n\r\n".to_string(), false),
        ("a chunk size that overflows", "ffffffffffffffffffffff\r\nabc\r\n0\r\n\r\n".into(), false),
        ("a chunk longer than its size", "2\r\n{\"operationName\":1}\r\n0\r\n\r\n".into(), false),
        ("no last chunk, then EOF", "3\r\n{\"o\r\n".into(), true),
        (
            "a whole Complete, then a malformed chunk",
            format!("{:x}\r\n{complete}\r\nzz\r\n\r\n", complete.len()),
            false,
        ),
    ] {
        let raw = format!("{chunked_head}{chunks}");
        let mut c = raw_case(&format!("chunked: {what}"), "POST", raw, err(400, 1));
        c.half_close = half;
        t.push(c);
    }
    let post_head = format!("POST {chat} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (what, headers, body) in [
        (
            "Transfer-Encoding and Content-Length",
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
            "3\r\nabc\r\n0\r\n\r\n",
        ),
        ("Transfer-Encoding: gzip", "Transfer-Encoding: gzip\r\n", "abc"),
        ("two different Content-Lengths", "Content-Length: 2\r\nContent-Length: 3\r\n", "{}"),
        ("a negative Content-Length", "Content-Length: -1\r\n", "{}"),
        ("a Content-Length that is not a number", "Content-Length: abc\r\n", "{}"),
        ("a Content-Length of 2^80", "Content-Length: 1208925819614629174706176\r\n", "{}"),
        ("a NUL in a header value", "X-A: a\0b\r\nContent-Length: 2\r\n", "{}"),
        ("a header line without a colon", "garbage\r\nContent-Length: 2\r\n", "{}"),
        ("a space in a header name", "X Bad: 1\r\nContent-Length: 2\r\n", "{}"),
    ] {
        let raw = format!("{post_head}{headers}\r\n{body}");
        t.push(raw_case(&format!("framing: {what}"), "POST", raw, Want::Protocol));
    }
    t.push(
        case(
            "Expect: 100-continue",
            "POST",
            &chat,
            r#"{"operationName":"SendMessage"}"#,
            err(400, 1),
        )
        .header("Expect", "100-continue"),
    );
    t.push(
        case(
            "Expect: teapot",
            "POST",
            &chat,
            r#"{"operationName":"SendMessage"}"#,
            either(err(400, 1), either(err(417, 2), Want::Protocol)),
        )
        .header("Expect", "teapot"),
    );
    t.push(
        case("a Content-Length shorter than the body", "POST", &chat, complete, err(400, 1))
            .header("Content-Length", "10"),
    );
    t.push(
        case(
            "a Content-Length longer than the body, then EOF",
            "POST",
            &chat,
            complete,
            err(400, 1),
        )
        .header("Content-Length", "100")
        .half_close(),
    );
    let obs_text = [
        format!("GET {chat} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n").as_bytes(),
        b"X-Latin: caf\xe9\r\n\r\n",
    ]
    .concat();
    t.push(raw_case("a header value with 8-bit bytes", "GET", obs_text, Want::Ok(200)));
    t.push(raw_case("HTTP/1.0", "GET", format!("GET {chat} HTTP/1.0\r\n\r\n"), Want::Ok(200)));
    t.push(raw_case(
        "bare LF line endings",
        "GET",
        format!("GET {chat} HTTP/1.1\nHost: localhost\nConnection: close\n\n"),
        Want::Ok(200),
    ));
    t.push(raw_case(
        "no Host header",
        "GET",
        format!("GET {chat} HTTP/1.1\r\nConnection: close\r\n\r\n"),
        Want::Protocol,
    ));
    t.push(raw_case(
        "HTTP/2.0 on the request line",
        "GET",
        format!("GET {chat} HTTP/2.0\r\nHost: localhost\r\n\r\n"),
        Want::Protocol,
    ));
    t.push(raw_case("an HTTP/0.9 request", "GET", format!("GET {chat}\r\n\r\n"), Want::Protocol));
    let mut hello = raw_case(
        "a TLS ClientHello",
        "GET",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        Want::Protocol,
    );
    hello.half_close = true;
    t.push(hello);

    // -- static files: traversal must never leave client/ --
    for path in [
        "/client/../Cargo.toml",
        "/client/%2e%2e/Cargo.toml",
        "/client/..%2f..%2fCargo.toml",
        "/client/..%2fCargo.toml",
        "/client/....//Cargo.toml",
        "/client/.%2e/Cargo.toml",
        "/client/%2e%2e%5cCargo.toml",
        "/client/..\\Cargo.toml",
        "/client/x/../../Cargo.toml",
        "/client/%252e%252e/Cargo.toml",
        "/client/%c0%ae%c0%ae/Cargo.toml",
        "/client/%2e%2e/src/main.rs",
        "/client/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/client/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/client//etc/passwd",
        "/client/index.html%00.js",
    ] {
        t.push(case(&format!("static: {path}"), "GET", path, "", Want::AnyError).forbid(&SECRETS));
    }
    // These resolve inside client/ (the `..` cannot climb above it): a redirect or the widget.
    for path in ["/client/..", "/client/%2e%2e/", "/client/x/%2e%2e/"] {
        let want = Want::AnyOf(vec![Want::Ok(200), Want::Ok(307), Want::AnyError]);
        t.push(case(&format!("static: {path}"), "GET", path, "", want).forbid(&SECRETS));
    }
    t
}

#[test]
fn a_table_of_hostile_requests_gets_gws_errors_and_changes_nothing() {
    // With the opt-in text cap set (off by default): the table checks that it works when set.
    let mut server = Server::builder()
        .arg("--agent-mode", "manual")
        .arg("--max-text", &MAX_TEXT.to_string())
        .start();
    let id = existing_chat(&server);
    let before = server.admin_chat(&id);
    let count = chat_count(server.port).unwrap();
    let cases = table(&id);
    assert!(cases.len() >= 60, "only {} rows", cases.len());

    let mut failures = Vec::new();
    let mut protocol = Vec::new();
    let mut baseline = before.clone();
    for case in &cases {
        let raw = case.wire();
        let started = Instant::now();
        let outcome =
            exchange(server.port, &raw, case.method == "HEAD", case.half_close, case.limit);
        let took = started.elapsed();
        let mut problems = match &outcome {
            Ok(res) => case.judge(res, &mut protocol),
            Err(e) => vec![format!("no answer: {e} (after {took:.1?})")],
        };
        let running = server.is_running();
        if !running {
            problems.push("the emulator process is gone".to_string());
        } else {
            // Nothing changed: the chat's whole admin detail and the number of chats.
            match detail(server.port, &id) {
                Ok(now) if now == baseline => {}
                Ok(now) => {
                    problems.push(format!(
                        "the chat changed:\n      before {baseline}\n      after  {now}"
                    ));
                    baseline = now;
                }
                Err(e) => problems.push(e),
            }
            match chat_count(server.port) {
                Ok(n) if n == count => {}
                other => {
                    problems.push(format!("the number of chats is now {other:?}, was {count}"))
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{}] {}\n    sent: {}\n    got:  {}",
                case.name,
                problems.join("; "),
                preview(&raw),
                outcome.as_ref().map_or_else(|e| e.clone(), show)
            ));
        }
        if !running {
            break;
        }
    }
    if !protocol.is_empty() {
        eprintln!("refused by the HTTP parser (4xx, empty body):\n  {}", protocol.join("\n  "));
    }

    // Once for the whole table: still running and answering, the chat exactly as before, and
    // it still works.
    let mut overall = Vec::new();
    if server.is_running() {
        let health = server.get("/__admin/health");
        if health.status != 200 || health.json()["status"] != "ok" {
            overall.push(format!("health after the table: {}", show(&health)));
        }
        let after = server.admin_chat(&id);
        if after != before {
            overall.push(format!(
                "the chat changed over the table:\n  before {before}\n  after  {after}"
            ));
        }
        match chat_count(server.port) {
            Ok(n) if n == count => {}
            other => overall.push(format!("the number of chats is {other:?}, was {count}")),
        }
        let res = server.send_message(&id, "still here?");
        if res.status != 200 {
            overall.push(format!("SendMessage after the table: {}", show(&res)));
        }
    } else {
        overall.push("the emulator process is gone".to_string());
    }
    overall.extend(panics_in_logs(&server).into_iter().map(|l| format!("a panic in the log: {l}")));
    assert!(
        failures.is_empty() && overall.is_empty(),
        "{} of {} hostile requests misbehaved:\n\n{}\n\nafter the whole table:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n"),
        overall.join("\n")
    );
}

#[test]
fn a_request_pipelined_behind_connection_close_is_never_run() {
    // RFC 9112 9.6: after a request with `Connection: close` the server "MUST NOT process any
    // further requests received on that connection". Here the next request would end the chat.
    let server = Server::builder().arg("--agent-mode", "manual").start();
    let id = server.request_chat("James");
    let before = server.admin_chat(&id);
    let complete = r#"{"operationName":"Complete"}"#;
    let smuggled =
        String::from_utf8(wire("POST", &format!("/api/v2/chats/{id}"), &[], complete.as_bytes()))
            .unwrap();
    let mut failures = Vec::new();
    for first in [
        wire("GET", &format!("/api/v2/chats/{id}"), &[], b""),
        wire("POST", &format!("/api/v2/chats/{id}"), &[], b"{}"),
    ] {
        let raw = [first.as_slice(), smuggled.as_bytes()].concat();
        // Read to the end: the server closes after its last answer, so whatever it ran is done.
        let all = talk(server.port, &raw, false, QUICK, |_| false).expect("an answer");
        let answers = all.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
        let after = server.admin_chat(&id);
        if after != before {
            failures.push(format!(
                "sent: {}\n    {answers} answers came back and the chat is now {}: {}",
                preview(&raw),
                after["state"],
                preview(&all)
            ));
            break;
        }
    }
    assert_still_healthy(&server);
    assert!(
        failures.is_empty(),
        "a request after Connection: close was run:\n{}",
        failures.join("\n")
    );
}

// ---- properties ----

/// One emulator for every property test running at the same time (they run in parallel);
/// killed when the last one drops it.
fn shared_server() -> Arc<Server> {
    static SHARED: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(server) = slot.upgrade() {
        return server;
    }
    let server = Arc::new(
        Server::builder()
            .arg("--agent-mode", "manual")
            .arg("--max-text", &MAX_TEXT.to_string())
            .start(),
    );
    *slot = Arc::downgrade(&server);
    server
}

/// Runs `test` on `cases` values of `strategy`; on a failure, panics with the shrunk input.
fn check<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: Debug,
{
    let config =
        Config { cases, failure_persistence: None, max_shrink_iters: 256, ..Config::default() };
    if let Err(e) = TestRunner::new(config).run(&strategy, test) {
        panic!("property {name:?} failed: {e}");
    }
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Chats,
    Chat,
    Agent,
}

impl Route {
    fn path(self, id: &str) -> String {
        match self {
            Route::Chats => "/api/v2/chats".to_string(),
            Route::Chat => format!("/api/v2/chats/{id}"),
            Route::Agent => format!("/__admin/chats/{id}/agent"),
        }
    }
}

fn route() -> impl Strategy<Value = Route> {
    prop_oneof![Just(Route::Chats), Just(Route::Chat), Just(Route::Agent)]
}

/// A required string field as the server must see it: the refusal, or the string.
fn required<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a str, (u16, i64)> {
    match map.get(name) {
        None | Some(Value::Null) => Err((400, 1)),
        Some(Value::String(s)) if s.trim().is_empty() => Err((400, 1)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err((400, 2)),
    }
}

/// The refusal SPEC.md's error table prescribes for `body` posted to `route` (an existing chat),
/// from what is decided before the chat's state matters; None when the request gets further.
fn oracle(route: Route, body: &[u8]) -> Option<(u16, i64)> {
    if body.len() > MAX_BODY {
        return Some((413, 2));
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Some((400, 1));
    };
    let verdict = match route {
        Route::Chats => required(&map, "operationName").and_then(|op| match op {
            "RequestChat" => required(&map, "nickname").map(drop),
            _ => Err((400, 2)),
        }),
        Route::Chat => required(&map, "operationName").and_then(|op| match op {
            "SendMessage" => required(&map, "text").map(drop),
            "RequestChat" => Err((400, 2)),
            op if OPERATIONS.contains(&op) => Ok(()),
            _ => Err((400, 2)),
        }),
        Route::Agent => required(&map, "action").and_then(|a| {
            if ACTIONS.contains(&a) {
                Ok(())
            } else {
                Err((400, 2))
            }
        }),
    };
    verdict.err()
}

/// Posts `body` to `route` and checks the contract and the oracle.
fn post_and_check(port: u16, id: &str, route: Route, body: &[u8]) -> Result<(), TestCaseError> {
    let path = route.path(id);
    let res = send(port, "POST", &path, body).map_err(fail)?;
    let code = contract("POST", &path, &res).map_err(fail)?;
    if let Some((http, want)) = oracle(route, body) {
        prop_assert!(
            res.status == http && code == Some(want),
            "expected HTTP {http} statusCode {want}, got {}",
            show(&res)
        );
    }
    Ok(())
}

const TEMPLATES: [&[u8]; 6] = [
    br#"{"operationName":"SendMessage","text":"hi there"}"#,
    br#"{"operationName":"RequestChat","nickname":"Eve","subject":"s","userData":{"a":[1]}}"#,
    br#"{"operationName":"SendStartTypingNotification"}"#,
    br#"{"action":"message","text":"hello"}"#,
    br#"{"action":"pushUrl","url":"https://example.com/a?b=c"}"#,
    br#"{"action":"join","nickname":"Ann"}"#,
];

/// Arbitrary bytes, or a valid body with a few bytes replaced, inserted or removed.
fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    let random = prop::collection::vec(any::<u8>(), 0..2048);
    let edit = (any::<prop::sample::Index>(), any::<u8>(), 0u8..3);
    let mutated = (prop::sample::select(TEMPLATES.to_vec()), prop::collection::vec(edit, 1..6))
        .prop_map(|(template, edits)| {
            let mut body = template.to_vec();
            for (at, byte, kind) in edits {
                let i = at.index(body.len() + 1);
                match kind {
                    0 if i < body.len() => body[i] = byte,
                    1 => body.insert(i, byte),
                    _ if i < body.len() => {
                        body.remove(i);
                    }
                    _ => {}
                }
            }
            body
        });
    prop_oneof![random, mutated]
}

const KEYS: [&str; 8] =
    ["operationName", "nickname", "subject", "userData", "endpoint", "text", "action", "url"];

/// Any JSON value: scalars (every number kind, any string, the API's own names), and arrays
/// and objects of them up to 6 deep.
fn json_value() -> impl Strategy<Value = Value> {
    let names: Vec<String> =
        OPERATIONS.iter().chain(ACTIONS.iter()).map(|s| s.to_string()).collect();
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        prop::sample::select(names).prop_map(Value::String),
    ];
    let key =
        prop_oneof![prop::sample::select(KEYS.to_vec()).prop_map(String::from), any::<String>()];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A plausible value for `key` (right type, sometimes right value), or any JSON value.
fn field_value(key: &'static str) -> BoxedStrategy<Value> {
    let plausible: BoxedStrategy<Value> = match key {
        "operationName" => {
            let mut names: Vec<String> = OPERATIONS.iter().map(|s| s.to_string()).collect();
            names.extend(["complete", " Complete", "SendMessage\u{0}", "", " "].map(String::from));
            prop::sample::select(names).prop_map(Value::String).boxed()
        }
        "action" => {
            let mut names: Vec<String> = ACTIONS.iter().map(|s| s.to_string()).collect();
            names.extend(["Join", "message ", "", "\t"].map(String::from));
            prop::sample::select(names).prop_map(Value::String).boxed()
        }
        "userData" => prop::collection::btree_map(any::<String>(), any::<String>(), 0..4)
            .prop_map(|m| json!(m))
            .boxed(),
        "url" => prop_oneof![
            Just(json!("https://example.com/")),
            any::<String>().prop_map(|s| json!(format!("http://{s}"))),
            any::<String>().prop_map(Value::String),
        ]
        .boxed(),
        _ => any::<String>().prop_map(Value::String).boxed(),
    };
    prop_oneof![2 => plausible, 1 => json_value()].boxed()
}

/// A JSON object with some of the API's keys, each with a plausible or arbitrary value, and
/// sometimes an unknown key.
fn right_keys_object() -> impl Strategy<Value = Value> {
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = KEYS
        .into_iter()
        .map(|k| prop::option::of(field_value(k).prop_map(move |v| (k.to_string(), v))).boxed())
        .collect();
    (fields, prop::option::of((any::<String>(), json_value()))).prop_map(|(fields, extra)| {
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        if let Some((k, v)) = extra {
            map.insert(k, v);
        }
        map.extend(fields.into_iter().flatten());
        Value::Object(map.into_iter().collect())
    })
}

#[test]
fn property_arbitrary_bytes_as_a_body_get_a_gws_answer() {
    let server = shared_server();
    let id = server.request_chat("Bytes");
    check("arbitrary bytes as a body", 300, (route(), body_bytes()), |(route, body)| {
        post_and_check(server.port, &id, route, &body)
    });
    assert_still_healthy(&server);
}

#[test]
fn property_arbitrary_json_values_as_a_body_get_a_gws_answer() {
    let server = shared_server();
    let id = server.request_chat("Values");
    check("arbitrary JSON values", 300, (route(), json_value()), |(route, value)| {
        post_and_check(server.port, &id, route, value.to_string().as_bytes())
    });
    assert_still_healthy(&server);
}

#[test]
fn property_the_right_keys_with_arbitrary_value_types_get_a_gws_answer() {
    let server = shared_server();
    let id = server.request_chat("Keys");
    check(
        "the right keys, arbitrary types",
        300,
        (route(), right_keys_object()),
        |(route, value)| post_and_check(server.port, &id, route, value.to_string().as_bytes()),
    );
    assert_still_healthy(&server);
}

/// Request-target characters: unreserved, sub-delimiters, `:` and `@`, any percent-encoded
/// byte (NUL, invalid UTF-8), dot segments, and a stray `%`.
fn segment() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[A-Za-z0-9._~!$&'()*+,;=:@-]{1,8}",
        3 => any::<u8>().prop_map(|b| format!("%{b:02X}")),
        1 => Just("..".to_string()),
        1 => Just(".".to_string()),
        1 => Just("%2e%2e%2f".to_string()),
        1 => Just("%".to_string()),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

fn request_target(id: &str) -> impl Strategy<Value = String> {
    let ids = prop_oneof![
        3 => segment(),
        1 => Just(id.to_string()),
        1 => Just(id.to_uppercase()),
        1 => Just(format!("{id}%00")),
        1 => Just(format!("%2e%2e%2f{id}")),
    ];
    let templates = prop::sample::select(vec![
        "/api/v2/chats/{}",
        "/api/v2/chats/{}/messages",
        "/__admin/chats/{}",
        "/__admin/chats/{}/messages",
        "/__admin/chats/{}/agent",
        "/api/v2/{}",
        "/__admin/{}",
        "/client/{}",
        "/{}",
    ]);
    let tail = prop_oneof![
        Just(String::new()),
        Just("/".to_string()),
        segment().prop_map(|s| format!("/{s}"))
    ];
    let key = prop_oneof![
        Just("index".to_string()),
        Just("limit".to_string()),
        Just("state".to_string()),
        segment()
    ];
    let query = prop::collection::vec((key, prop::option::of(segment())), 0..4).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| v.map_or_else(|| k.clone(), |v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join("&")
    });
    (templates, ids, tail, prop::option::of(query)).prop_map(|(template, id, tail, query)| {
        let mut target = template.replace("{}", &id) + &tail;
        if let Some(q) = query {
            target.push('?');
            target.push_str(&q);
        }
        target
    })
}

#[test]
fn property_arbitrary_paths_ids_and_queries_get_a_gws_answer() {
    let server = shared_server();
    let id = server.request_chat("Paths");
    // No DELETE: `DELETE /__admin/chats` (however spelled) is the reset, and would wipe the
    // other properties' chats. The table sends DELETE to every route.
    let methods = prop::sample::select(vec![
        "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "TRACE", "BREW", "get",
    ]);
    check(
        "arbitrary paths, ids and queries",
        300,
        (methods, request_target(&id)),
        |(method, target)| {
            let res = send(server.port, method, &target, b"").map_err(fail)?;
            contract(method, &target, &res).map_err(fail)?;
            Ok(())
        },
    );
    assert_still_healthy(&server);
}

/// Percent-encodes every byte but the unreserved ones, so the server decodes exactly `s`.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What `index=<v>` must give: `Some(Some(n))` a transcript from n, `Some(None)` 400/2, `None`
/// either (forms the spec is silent on: surrounding whitespace, a `+`, `-0`).
fn index_oracle(v: &str) -> Option<Option<i64>> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(v) {
        return Some(v.parse().ok());
    }
    let t = v.trim();
    let unsigned = t.strip_prefix('+').unwrap_or(t);
    let lenient = digits(unsigned)
        || t.strip_prefix('-').is_some_and(|z| digits(z) && z.bytes().all(|b| b == b'0'));
    if lenient && t.parse::<i64>().is_ok() {
        None
    } else {
        Some(None)
    }
}

#[test]
fn property_index_is_a_whole_number_or_refused_with_400_2() {
    let server = shared_server();
    let id = server.request_chat("Index");
    for text in ["one", "two", "three"] {
        assert_eq!(server.send_message(&id, text).status, 200);
    }
    let values = prop_oneof![
        "[0-9]{1,25}",
        "[-+ ]{0,2}[0-9]{1,5}[ \t]{0,2}",
        "[0-9a-zA-Z.eExX_+-]{0,10}",
        any::<String>(),
        prop::sample::select(vec!["NaN", "inf", "٣", "１", "0x10", "1e2", "-0", "+0", "\u{a0}1"])
            .prop_map(String::from),
    ];
    let paths = prop::sample::select(vec![
        format!("/api/v2/chats/{id}/messages"),
        format!("/__admin/chats/{id}/messages"),
    ]);
    check("index values", 300, (paths, values), |(path, v)| {
        let target = format!("{path}?index={}", encode(&v));
        let res = send(server.port, "GET", &target, b"").map_err(fail)?;
        let code = contract("GET", &target, &res).map_err(fail)?;
        let refused = res.status == 400 && code == Some(2);
        let from = match index_oracle(&v) {
            Some(None) => {
                prop_assert!(refused, "index={v:?}: expected 400/2, got {}", show(&res));
                return Ok(());
            }
            Some(Some(n)) => {
                prop_assert!(res.status == 200, "index={v:?}: expected 200, got {}", show(&res));
                n
            }
            None if refused => return Ok(()),
            None => {
                prop_assert!(
                    res.status == 200,
                    "index={v:?}: expected 200 or 400/2, got {}",
                    show(&res)
                );
                v.trim().parse::<i64>().unwrap_or(0)
            }
        };
        let body: Value = serde_json::from_slice(&res.body).map_err(|e| fail(e.to_string()))?;
        let indexes: Vec<i64> = body["messages"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["index"].as_i64()).collect())
            .unwrap_or_default();
        prop_assert!(indexes.iter().all(|i| *i >= from.max(1)), "index={v:?} returned {indexes:?}");
        Ok(())
    });
    assert_still_healthy(&server);
}

/// Message texts: any characters, control characters and the JSON/HTML-special ones often,
/// and some texts at the `--max-text` cap (in characters, within `--max-body` in bytes).
fn message_text() -> impl Strategy<Value = String> {
    let special = vec![
        '"',
        '\\',
        '/',
        '<',
        '>',
        '&',
        '\'',
        '%',
        '\r',
        '\n',
        '\t',
        '\0',
        '\u{7f}',
        '\u{85}',
        '\u{2028}',
        '\u{2029}',
        '\u{feff}',
        '\u{200b}',
        '\u{fffd}',
        '\u{10ffff}',
        '😀',
        'é',
        '中',
    ];
    let any_char: BoxedStrategy<char> = prop_oneof![
        3 => any::<char>(),
        1 => (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
        1 => (0x7fu32..0xa0).prop_map(|c| char::from_u32(c).unwrap()),
        2 => prop::sample::select(special),
    ]
    .boxed();
    let short = prop::collection::vec(any_char.clone(), 1..200)
        .prop_map(|chars| chars.into_iter().collect::<String>());
    let long = (
        prop::collection::vec(any_char, 0..16),
        MAX_TEXT - 16..=MAX_TEXT,
        prop::sample::select(vec!['x', 'é', '中']),
    )
        .prop_map(|(prefix, total, fill)| {
            let mut text: String = prefix.into_iter().collect();
            let have = text.chars().count();
            text.extend(std::iter::repeat_n(fill, total - have));
            text
        });
    prop_oneof![8 => short, 2 => any::<String>(), 1 => long]
        .prop_filter("a blank text is refused", |t| !t.trim().is_empty())
}

#[test]
fn property_any_non_blank_text_within_the_cap_round_trips_byte_for_byte() {
    let server = shared_server();
    let id = server.request_chat("Texts");
    assert_eq!(server.poll(&id).len(), 2, "the two ParticipantJoined");
    let chat = format!("/api/v2/chats/{id}");
    check("SendMessage round trip", 200, message_text(), |text| {
        let body = json!({"operationName": "SendMessage", "text": text}).to_string();
        prop_assert!(body.len() <= MAX_BODY, "the test made a body of {} bytes", body.len());
        let res = send(server.port, "POST", &chat, body.as_bytes()).map_err(fail)?;
        prop_assert!(res.status == 200, "SendMessage: {}", show(&res));
        prop_assert_eq!(contract("POST", &chat, &res).map_err(fail)?, Some(0));
        // The customer's next poll holds exactly this message, with exactly this text (equal
        // strings are equal UTF-8 bytes).
        let res = send(server.port, "GET", &format!("{chat}/messages"), b"").map_err(fail)?;
        prop_assert!(res.status == 200, "GetTranscript: {}", show(&res));
        let polled: Value = serde_json::from_slice(&res.body).map_err(|e| fail(e.to_string()))?;
        let messages = polled["messages"].as_array().cloned().unwrap_or_default();
        prop_assert_eq!(messages.len(), 1, "one new message, got {:?}", messages);
        let m = &messages[0];
        prop_assert_eq!(&m["type"], "Text");
        prop_assert_eq!(&m["from"]["participantId"], "1");
        prop_assert_eq!(m["text"].as_str(), Some(text.as_str()));
        // And read again by index, the same.
        let index = m["index"].as_i64().unwrap_or(0);
        let res = send(server.port, "GET", &format!("{chat}/messages?index={index}"), b"")
            .map_err(fail)?;
        let again: Value = serde_json::from_slice(&res.body).map_err(|e| fail(e.to_string()))?;
        prop_assert_eq!(again["messages"][0]["text"].as_str(), Some(text.as_str()));
        Ok(())
    });
    assert_still_healthy(&server);
}
