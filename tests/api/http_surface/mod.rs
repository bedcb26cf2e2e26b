//! The HTTP surface of the customer chat API and the admin API, checked against docs/api.md
//! sections 2, 4 and 6: the exact success shapes, every row of the error table (and that a refused
//! request changes nothing), trailing slashes, content types, CORS, the apikey switch, text
//! stored byte-for-byte, and transcript reads with `index`. One module per section; the helpers
//! they share are here.

mod errors;
mod http_behaviour;
mod shapes;
mod text;
mod transcript_index;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::helpers::{chunked, texts, Response, Server};
use serde_json::{json, Value};

const ORIGIN: &str = "http://widget.example.com";
const OPEN_CAPABILITIES: [&str; 4] =
    ["SendMessage", "SendStartTypingNotification", "SendStopTypingNotification", "Complete"];

/// A SendMessage body around a text of `x`s (see `padded`).
const SEND_BEFORE: &str = r#"{"operationName":"SendMessage","text":""#;
const SEND_AFTER: &str = r#""}"#;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not a JSON object: {v}")).keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn capabilities(chat: &Value) -> BTreeSet<String> {
    chat["capabilities"]
        .as_array()
        .unwrap_or_else(|| panic!("capabilities is not an array in {chat}"))
        .iter()
        .map(|c| c.as_str().expect("a capability name").to_string())
        .collect()
}

/// How many chats the admin API lists.
fn chat_count(server: &Server) -> usize {
    let res = server.get("/__admin/chats");
    assert_eq!(res.status, 200, "admin list: {}", res.text());
    res.json()["chats"].as_array().expect("a chats array").len()
}

/// What a refused request must leave as it was: everything the admin API shows about the chat
/// (state, capabilities, participants, every message, read cursors, pending work).
fn snapshot(server: &Server, id: &str) -> Value {
    server.admin_chat(id)
}

fn post_raw(server: &Server, path: &str, body: &[u8]) -> Response {
    server.request("POST", path, &[("Content-Type", "application/json")], body)
}

/// A JSON body of exactly `total` bytes: `before`, then `x` repeated, then `after`.
fn padded(before: &str, after: &str, total: usize) -> Vec<u8> {
    let n = total - before.len() - after.len();
    let body = format!("{before}{}{after}", "x".repeat(n));
    assert_eq!(body.len(), total);
    body.into_bytes()
}

/// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length), in 1000-byte chunks.
fn chunked_post(server: &Server, path: &str, body: &[u8]) -> Response {
    let headers = [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")];
    server.request("POST", path, &headers, &chunked(body, 1000))
}

/// Asserts a GWS error answer: HTTP status, a JSON body with `statusCode` and a non-empty
/// `statusMessage`, and the headers every response carries.
#[track_caller]
fn assert_refused(res: &Response, http: u16, status_code: i64, what: &str) {
    assert_eq!(res.status, http, "{what}: HTTP status of {:?}", res.text());
    let content_type = res.header("Content-Type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: Content-Type of the error is {content_type:?}"
    );
    let body: Value = serde_json::from_slice(&res.body)
        .unwrap_or_else(|e| panic!("{what}: the error body is not JSON ({e}): {:?}", res.text()));
    assert_eq!(body["statusCode"], status_code, "{what}: statusCode of {body}");
    let msg = body["statusMessage"].as_str().unwrap_or_default();
    assert!(!msg.trim().is_empty(), "{what}: statusMessage missing in {body}");
    assert_common_headers(res, what);
}

/// Every response: `Access-Control-Allow-Origin` (any origin, or the caller's) and `nosniff`.
#[track_caller]
fn assert_common_headers(res: &Response, what: &str) {
    let allow_origin = res.header("Access-Control-Allow-Origin");
    assert!(
        matches!(allow_origin, Some("*") | Some(ORIGIN)),
        "{what}: Access-Control-Allow-Origin is {allow_origin:?} (HTTP {}); headers {:?}",
        res.status,
        res.headers
    );
    let nosniff = res.header("X-Content-Type-Options");
    assert!(
        nosniff.is_some_and(|v| v.eq_ignore_ascii_case("nosniff")),
        "{what}: X-Content-Type-Options is {nosniff:?}"
    );
}

/// Whether a comma-separated CORS list allows `item` (case-insensitively, or by `*`).
fn cors_list_allows(list: &str, item: &str) -> bool {
    list.split(',').map(str::trim).any(|v| v == "*" || v.eq_ignore_ascii_case(item))
}

/// A browser's preflight before a widget's cross-origin POST with the GWS headers.
fn preflight(server: &Server, path: &str, method: &str) -> Response {
    server.request(
        "OPTIONS",
        path,
        &[
            ("Origin", ORIGIN),
            ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", "apikey, contactcenterid, content-type"),
        ],
        b"",
    )
}

#[track_caller]
fn assert_preflight_allowed(res: &Response, path: &str) {
    let what = format!("preflight OPTIONS {path}");
    assert!((200..300).contains(&res.status), "{what}: HTTP {} {:?}", res.status, res.text());
    assert_common_headers(res, &what);
    let methods = res
        .header("Access-Control-Allow-Methods")
        .unwrap_or_else(|| panic!("{what}: no Access-Control-Allow-Methods in {:?}", res.headers));
    for m in ["GET", "POST", "OPTIONS"] {
        assert!(
            cors_list_allows(methods, m),
            "{what}: {m} not in Access-Control-Allow-Methods {methods:?}"
        );
    }
    let headers = res
        .header("Access-Control-Allow-Headers")
        .unwrap_or_else(|| panic!("{what}: no Access-Control-Allow-Headers in {:?}", res.headers));
    for h in ["apikey", "ContactCenterId", "Content-Type", "X-Requested-With", "Accept"] {
        assert!(
            cors_list_allows(headers, h),
            "{what}: {h} not in Access-Control-Allow-Headers {headers:?}"
        );
    }
}

fn customer() -> Value {
    json!({"nickname": "James", "participantId": "1", "type": "Customer"})
}

/// The texts of the customer's `Text` messages, in order.
fn customer_texts(messages: &[Value]) -> Vec<String> {
    let mine: Vec<Value> =
        messages.iter().filter(|m| m["from"]["participantId"] == "1").cloned().collect();
    texts(&mine, "Text")
}
