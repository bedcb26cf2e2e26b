//! The table of hostile requests: each row a request and the answer it must get, aimed at one
//! chat that must not change.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{chunked, exchange, preview, Exchange, Response, Server};

use super::{gws_error, is_json_type, panics_in_logs, send, show, MAX_TEXT, QUICK};

const TEN_MB: usize = 10 * 1024 * 1024;
/// The same for the 10 MB uploads (a debug build on a busy machine).
const SLOW: Duration = Duration::from_secs(20);
/// Strings that must never come back from the static-file server.
const SECRETS: [&str; 4] = ["[package]", "[dependencies]", "root:x:0:0", "fn main()"];

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
    let mut server = Server::manual();
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
