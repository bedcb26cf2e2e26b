//! The table of hostile requests: each row a request and the answer it must get, aimed at one
//! chat that must not change. The rows are data, in `tests/fixtures/hostile/` (see its
//! README.md): one JSON-lines file per section, so adding a case needs no Rust. Two sections are
//! loops rather than lists and are made here: every method on every route (from the routes in
//! `every-method.json`), and a request with 200 headers.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::helpers::{chunked, exchange, preview, Exchange, Response, Server};

use super::{gws_error, is_json_type, panics_in_logs, send, show, MAX_TEXT, QUICK};

/// The same for the 10 MB uploads (a debug build on a busy machine).
const SLOW: Duration = Duration::from_secs(20);
/// Strings that must never come back from the static-file server.
const SECRETS: [&str; 4] = ["[package]", "[dependencies]", "root:x:0:0", "fn main()"];

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hostile"))
}

/// What a hostile request must get.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Want {
    /// A success (or redirect) with this HTTP status.
    Ok(u16),
    /// A GWS error with this HTTP status and `statusCode`.
    Error(u16, i64),
    /// Any of these.
    AnyOf(Vec<Want>),
    /// Some 4xx GWS error (the error table does not say which, e.g. for static files).
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
#[derive(Debug)]
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

impl Case {
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
            out.extend_from_slice(&chunked(&self.body, 64 * 1024));
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

// ---- the rows as data ----

/// The values of the `${…}` placeholders: the chat every row aims at.
struct Vars {
    id: String,
}

impl Vars {
    /// `text` with every `${name}` replaced.
    fn fill(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end =
                rest[start..].find('}').ok_or_else(|| format!("an unclosed ${{ in {text:?}"))?;
            let name = &rest[start + 2..start + end];
            out.push_str(&match name {
                "id" => self.id.clone(),
                "id_no_hyphens" => self.id.replace('-', ""),
                "id_head" => self.id[..8].to_string(),
                "id_tail" => self.id[8..].to_string(),
                _ => return Err(format!("an unknown placeholder ${{{name}}} in {text:?}")),
            });
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Bytes written in a fixture: a string (its UTF-8), or a list of parts joined: strings,
    /// `{"hex": "ff fe"}`, `{"repeat": "x", "times": 3}`, `{"utf16le": "text"}`. Placeholders
    /// are replaced in every string.
    fn bytes(&self, v: &Value) -> Result<Vec<u8>, String> {
        let part = |p: &Value| -> Result<Vec<u8>, String> {
            let text = |key: &str| {
                let s = p[key].as_str().ok_or_else(|| format!("{key} is not a string in {p}"))?;
                self.fill(s)
            };
            match p {
                Value::String(s) => Ok(self.fill(s)?.into_bytes()),
                Value::Object(o) if o.len() == 1 && o.contains_key("hex") => {
                    let hex: String = text("hex")?.split_whitespace().collect();
                    (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("?"), 16))
                        .collect::<Result<_, _>>()
                        .map_err(|e| format!("bad hex in {p}: {e}"))
                }
                Value::Object(o) if o.len() == 2 && o.contains_key("repeat") => {
                    let times = o["times"].as_u64().ok_or_else(|| format!("no times in {p}"))?;
                    Ok(text("repeat")?.repeat(times as usize).into_bytes())
                }
                Value::Object(o) if o.len() == 1 && o.contains_key("utf16le") => {
                    Ok(text("utf16le")?.encode_utf16().flat_map(u16::to_le_bytes).collect())
                }
                _ => Err(format!("not a string, hex, repeat or utf16le part: {p}")),
            }
        };
        match v {
            Value::Array(parts) => {
                Ok(parts.iter().map(part).collect::<Result<Vec<_>, _>>()?.concat())
            }
            v => part(v),
        }
    }

    fn text(&self, v: &Value) -> Result<String, String> {
        String::from_utf8(self.bytes(v)?).map_err(|_| format!("not UTF-8: {v}"))
    }
}

/// One line of a fixture file: see tests/fixtures/hostile/README.md.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    name: String,
    method: String,
    path: Option<Value>,
    #[serde(default)]
    headers: Vec<(String, Value)>,
    body: Option<Value>,
    json: Option<Value>,
    #[serde(default)]
    chunked: bool,
    raw: Option<Value>,
    #[serde(default)]
    half_close: bool,
    #[serde(default)]
    slow: bool,
    want: Want,
    #[serde(default)]
    forbid_secrets: bool,
    /// For the reader of the file only.
    #[serde(default, rename = "why")]
    _why: Option<String>,
}

impl Row {
    fn case(self, vars: &Vars) -> Result<Case, String> {
        let body = match (&self.body, &self.json) {
            (Some(_), Some(_)) => return Err("both body and json".into()),
            (Some(body), None) => vars.bytes(body)?,
            (None, Some(json)) => vars.fill(&json.to_string())?.into_bytes(),
            (None, None) => Vec::new(),
        };
        if self.raw.is_some() && (self.path.is_some() || !body.is_empty() || self.chunked) {
            return Err("raw goes alone (with method, half_close, want)".into());
        }
        Ok(Case {
            name: vars.fill(&self.name)?,
            path: self.path.as_ref().map(|p| vars.text(p)).transpose()?.unwrap_or_default(),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| Ok((k.clone(), vars.text(v)?)))
                .collect::<Result<_, String>>()?,
            body,
            chunked: self.chunked,
            raw: self.raw.as_ref().map(|r| vars.bytes(r)).transpose()?,
            half_close: self.half_close,
            limit: if self.slow { SLOW } else { QUICK },
            want: self.want,
            forbid: if self.forbid_secrets { SECRETS.to_vec() } else { Vec::new() },
            method: self.method,
        })
    }
}

/// The rows of every `*.jsonl` file in tests/fixtures/hostile/, in file order.
fn rows_from_files(vars: &Vars) -> Vec<Case> {
    let mut files: Vec<_> = std::fs::read_dir(fixtures())
        .expect("tests/fixtures/hostile/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let case = serde_json::from_str::<Row>(line)
                .map_err(|e| e.to_string())
                .and_then(|row| row.case(vars))
                .unwrap_or_else(|e| panic!("{}:{}: {e}", file.display(), n + 1));
            cases.push(case);
        }
    }
    cases
}

/// The routes of `every-method.json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EveryMethod {
    methods: Vec<String>,
    routes: Vec<RouteRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteRow {
    path: String,
    /// `api` (answers `allows`), `static` (the web client's files) or `redirect` (to /client/).
    #[serde(default = "api")]
    kind: String,
    #[serde(default)]
    allows: Vec<String>,
    /// The body sent with every method but POST: what would do the most damage if it were taken
    /// for a POST.
    damage: String,
    /// Methods not sent to this route.
    #[serde(default)]
    skip: Vec<String>,
    #[serde(default, rename = "why")]
    _why: Option<String>,
}

fn api() -> String {
    "api".into()
}

/// Every method on every route: a rule, not a list. POST goes with an empty body.
fn every_method_on_every_route(vars: &Vars) -> Vec<Case> {
    let file = fixtures().join("every-method.json");
    let every: EveryMethod = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut cases = Vec::new();
    for route in &every.routes {
        let path = vars.fill(&route.path).unwrap();
        for method in every.methods.iter().filter(|m| !route.skip.contains(m)) {
            let wrong = err(405, 2);
            let allowed = route.allows.contains(method);
            let want = match (route.kind.as_str(), method.as_str()) {
                (_, "OPTIONS") => Want::Ok(204),
                ("redirect", "GET") => Want::Ok(302),
                // Not an API route: 404 (no such resource) or 405 both fit the spec.
                ("redirect", _) => either(err(404, 6), err(405, 2)),
                ("static", "GET") => Want::Ok(200),
                ("static", "HEAD") => either(Want::Ok(200), wrong),
                ("static", _) => wrong,
                ("api", "HEAD") if route.allows.iter().any(|m| m == "GET") => {
                    either(Want::Ok(200), wrong)
                }
                ("api", "POST") if allowed => err(400, 1),
                ("api", _) if allowed => Want::Ok(200),
                ("api", _) => wrong,
                (kind, _) => panic!("{}: unknown kind {kind:?}", file.display()),
            };
            let body =
                if method == "POST" { String::new() } else { vars.fill(&route.damage).unwrap() };
            cases.push(Case {
                name: format!("{method} {path}"),
                method: method.clone(),
                path: path.clone(),
                headers: Vec::new(),
                body: body.into_bytes(),
                chunked: false,
                raw: None,
                half_close: false,
                limit: QUICK,
                want,
                forbid: Vec::new(),
            });
        }
    }
    cases
}

/// Every row of the table, aimed at the chat `id`.
fn table(id: &str) -> Vec<Case> {
    let vars = Vars { id: id.to_string() };
    let mut t = rows_from_files(&vars);
    t.extend(every_method_on_every_route(&vars));
    // 200 distinct header names: a loop, not a list.
    t.push(Case {
        name: "200 headers".into(),
        method: "GET".into(),
        path: format!("/api/v2/chats/{id}"),
        headers: (0..200).map(|i| (format!("X-H{i}"), "v".to_string())).collect(),
        body: Vec::new(),
        chunked: false,
        raw: None,
        half_close: false,
        limit: QUICK,
        want: Want::Protocol,
        forbid: Vec::new(),
    });
    t
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
fn detail(server: &Server, id: &str) -> Result<Value, String> {
    let res = send(server, "GET", &format!("/__admin/chats/{id}"), b"")?;
    if res.status != 200 {
        return Err(format!("admin detail: {}", show(&res)));
    }
    serde_json::from_slice::<Value>(&res.body)
        .map(|v| v["chat"].clone())
        .map_err(|e| format!("admin detail is not JSON: {e}"))
}

fn chat_count(server: &Server) -> Result<usize, String> {
    let res = send(server, "GET", "/__admin/chats?limit=10000", b"")?;
    let body: Value = serde_json::from_slice(&res.body).map_err(|e| format!("chat list: {e}"))?;
    body["chats"].as_array().map(Vec::len).ok_or_else(|| format!("chat list: {}", show(&res)))
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
    let count = chat_count(&server).unwrap();
    let cases = table(&id);
    assert!(cases.len() >= 60, "only {} rows", cases.len());

    let mut failures = Vec::new();
    let mut protocol = Vec::new();
    let mut baseline = before.clone();
    for case in &cases {
        let raw = case.wire();
        let started = Instant::now();
        let how = Exchange {
            head: case.method == "HEAD",
            half_close: case.half_close,
            limit: case.limit,
        };
        let outcome = exchange(server.port, &raw, how);
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
            match detail(&server, &id) {
                Ok(now) if now == baseline => {}
                Ok(now) => {
                    problems.push(format!(
                        "the chat changed:\n      before {baseline}\n      after  {now}"
                    ));
                    baseline = now;
                }
                Err(e) => problems.push(e),
            }
            match chat_count(&server) {
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
        match chat_count(&server) {
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
