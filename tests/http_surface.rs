//! The HTTP surface of the customer chat API and the admin API, checked against SPEC.md
//! sections 1 and 3: the exact success shapes, every row of the error table (and that a refused
//! request changes nothing), trailing slashes, content types, CORS, the apikey switch, text
//! stored byte-for-byte, and transcript reads with `index`.

mod common;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{indexes, messages, raw_request, texts, Response, Server, APIKEY};
use serde_json::{json, Value};

const ORIGIN: &str = "http://widget.example.com";
const OPEN_CAPABILITIES: [&str; 4] =
    ["SendMessage", "SendStartTypingNotification", "SendStopTypingNotification", "Complete"];

/// A SendMessage body around a text of `x`s (see `padded`).
const SEND_BEFORE: &str = r#"{"operationName":"SendMessage","text":""#;
const SEND_AFTER: &str = r#""}"#;

// ---- helpers ----

/// An emulator whose agent side only moves through the admin API, so nothing changes a chat
/// behind the test's back.
fn manual_server() -> Server {
    Server::builder().arg("--agent-mode", "manual").start()
}

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

/// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length).
fn chunked_post(server: &Server, path: &str, body: &[u8]) -> Response {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        server.port
    )
    .into_bytes();
    for chunk in body.chunks(1000) {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    raw_request(server.port, &raw)
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

// ---- 1. success shapes ----

#[test]
fn request_chat_answers_exactly_id_status_code_and_path() {
    let server = manual_server();
    let res = server.post(
        "/api/v2/chats",
        &json!({"operationName": "RequestChat", "nickname": "James", "subject": "Shapes"}),
    );
    assert_eq!(res.status, 200, "RequestChat: {}", res.text());
    assert_common_headers(&res, "RequestChat");
    let body = res.json();
    assert_eq!(keys(&body), set(&["id", "statusCode", "path"]), "{body}");
    assert_eq!(body["statusCode"], 0);
    let id = body["id"].as_str().expect("id is a string").to_string();
    let uuid = uuid::Uuid::parse_str(&id).expect("the id is a UUID");
    assert_eq!(uuid.get_version_num(), 4, "the id {id} is a UUID v4");
    assert_eq!(id.len(), 36, "the id {id} is in the hyphenated form");
    assert_eq!(body["path"], format!("/api/v2/chats/{id}"));

    // The path is where the chat lives.
    let res = server.get(body["path"].as_str().unwrap());
    assert_eq!(res.status, 200, "GET path: {}", res.text());
    assert_eq!(res.json()["chat"]["id"], id);

    // Every chat gets its own id.
    let other = server.request_chat("James");
    assert_ne!(other, id);
}

#[test]
fn send_message_typing_and_complete_each_answer_exactly_status_code_0() {
    let server = manual_server();
    let id = server.request_chat("James");
    let operations = [
        json!({"operationName": "SendMessage", "text": "Hello"}),
        json!({"operationName": "SendStartTypingNotification"}),
        json!({"operationName": "SendStopTypingNotification"}),
        json!({"operationName": "Complete"}),
    ];
    for op in operations {
        let res = server.op(&id, op.clone());
        assert_eq!(res.status, 200, "{op}: {}", res.text());
        assert_common_headers(&res, &op.to_string());
        assert_eq!(res.json(), json!({"statusCode": 0}), "answer to {op}");
    }
    let all = server.all_messages(&id);
    let kinds: Vec<&str> = all.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ParticipantJoined",
            "ParticipantJoined",
            "Text",
            "TypingStarted",
            "TypingStopped",
            "ParticipantLeft"
        ],
        "each operation left its message: {all:?}"
    );
}

#[test]
fn get_chat_answers_capabilities_id_participants_and_state() {
    let server = manual_server();
    let id = server.request_chat("James");
    let system = json!({"nickname": "system", "participantId": "2", "type": "External"});

    let res = server.get(&format!("/api/v2/chats/{id}"));
    assert_eq!(res.status, 200, "GetChat: {}", res.text());
    assert_common_headers(&res, "GetChat");
    let body = res.json();
    assert_eq!(keys(&body), set(&["chat", "statusCode"]), "{body}");
    assert_eq!(body["statusCode"], 0);
    let chat = &body["chat"];
    assert_eq!(keys(chat), set(&["capabilities", "id", "participants", "state"]), "{chat}");
    assert_eq!(chat["id"], id);
    assert_eq!(chat["state"], "WaitingForAgent");
    assert_eq!(capabilities(chat), set(&OPEN_CAPABILITIES));
    assert_eq!(chat["participants"], json!([customer(), system]));

    // An agent joins: a third participant, state Chatting, the same capabilities.
    let res = server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    assert_eq!(res.status, 200, "agent join: {}", res.text());
    let chat = server.chat(&id);
    assert_eq!(chat["state"], "Chatting");
    assert_eq!(capabilities(&chat), set(&OPEN_CAPABILITIES));
    let participants = chat["participants"].as_array().unwrap();
    for p in participants {
        assert_eq!(keys(p), set(&["nickname", "participantId", "type"]), "{p}");
        assert!(p["participantId"].is_string(), "participantId is a string: {p}");
    }
    assert!(
        participants.contains(&json!({"nickname": "Ann", "participantId": "3", "type": "Agent"})),
        "the agent is participant \"3\": {chat}"
    );

    // Completed: Idle, no capabilities, and GetChat still answers.
    assert_eq!(server.complete(&id).status, 200);
    let chat = server.chat(&id);
    assert_eq!(chat["state"], "Idle");
    assert_eq!(chat["capabilities"], json!([]));
    assert_eq!(chat["id"], id);
}

#[test]
fn get_transcript_answers_well_formed_messages_including_customer_typing() {
    let server = manual_server();
    let before = now_ms();
    let id = server.request_chat("James");
    for op in [
        json!({"operationName": "SendStartTypingNotification"}),
        json!({"operationName": "SendStopTypingNotification"}),
        json!({"operationName": "SendMessage", "text": "Hello there"}),
    ] {
        assert_eq!(server.op(&id, op.clone()).status, 200, "{op}");
    }
    let res = server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    assert_eq!(res.status, 200, "agent join: {}", res.text());
    let res = server.agent(&id, json!({"action": "message", "text": "Hi James"}));
    assert_eq!(res.status, 200, "agent message: {}", res.text());
    let after = now_ms();

    let res = server.get(&format!("/api/v2/chats/{id}/messages"));
    assert_eq!(res.status, 200, "GetTranscript: {}", res.text());
    assert_common_headers(&res, "GetTranscript");
    let body = res.json();
    assert_eq!(keys(&body), set(&["messages", "statusCode"]), "{body}");
    assert_eq!(body["statusCode"], 0);
    let all = body["messages"].as_array().expect("messages array").clone();

    let kinds: Vec<&str> = all.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ParticipantJoined",
            "ParticipantJoined",
            "TypingStarted",
            "TypingStopped",
            "Text",
            "ParticipantJoined",
            "Text"
        ],
        "{all:?}"
    );
    let agent = json!({"nickname": "Ann", "participantId": "3", "type": "Agent"});
    let system = json!({"nickname": "system", "participantId": "2", "type": "External"});
    let froms: Vec<&Value> = all.iter().map(|m| &m["from"]).collect();
    assert_eq!(
        froms,
        [&customer(), &system, &customer(), &customer(), &customer(), &agent, &agent]
    );
    assert_eq!(all[4]["text"], "Hello there");
    assert_eq!(all[6]["text"], "Hi James");

    let mut last_time = 0;
    for (i, m) in all.iter().enumerate() {
        let k = keys(m);
        assert!(
            set(&["index", "type", "from", "utcTime"]).is_subset(&k),
            "message lacks a field: {m}"
        );
        assert!(
            k.is_subset(&set(&["index", "type", "from", "text", "url", "utcTime"])),
            "message has an unknown field: {m}"
        );
        assert_eq!(m["index"], i as i64 + 1, "index is 1-based and contiguous: {m}");
        assert_eq!(keys(&m["from"]), set(&["nickname", "participantId", "type"]));
        assert!(m["from"]["participantId"].is_string(), "{m}");
        let t = m["utcTime"].as_i64().unwrap_or_else(|| panic!("utcTime is an integer: {m}"));
        assert!(
            (before - 1000..=after + 1000).contains(&t),
            "utcTime {t} is milliseconds since the epoch (request between {before} and {after})"
        );
        assert!(t >= last_time, "utcTime goes forward: {all:?}");
        last_time = t;
        if m["type"] == "Text" {
            assert!(m["text"].is_string(), "a Text message has its text: {m}");
        }
    }
    // The same messages with index=0, and in the admin view.
    assert_eq!(server.transcript_from(&id, 0), all);
    assert_eq!(server.all_messages(&id), all);
}

// ---- 2. the error table ----

#[test]
fn a_missing_or_blank_operation_name_is_refused_with_status_code_1() {
    let server = manual_server();
    let id = server.request_chat("James");
    let before = snapshot(&server, &id);
    let count = chat_count(&server);

    for body in [
        json!({"nickname": "James"}),
        json!({"operationName": "", "nickname": "James"}),
        json!({"operationName": "   ", "nickname": "James"}),
    ] {
        let res = server.post("/api/v2/chats", &body);
        assert_refused(&res, 400, 1, &format!("POST /api/v2/chats {body}"));
    }
    for body in [
        json!({"text": "hi"}),
        json!({"operationName": "", "text": "hi"}),
        json!({"operationName": " \t ", "text": "hi"}),
    ] {
        let res = server.op(&id, body.clone());
        assert_refused(&res, 400, 1, &format!("POST /api/v2/chats/{{id}} {body}"));
    }
    assert_eq!(chat_count(&server), count, "no chat was created");
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");
}

#[test]
fn a_missing_or_blank_nickname_is_refused_with_status_code_1() {
    let server = manual_server();
    for body in [
        json!({"operationName": "RequestChat"}),
        json!({"operationName": "RequestChat", "subject": "s"}),
        json!({"operationName": "RequestChat", "nickname": ""}),
        json!({"operationName": "RequestChat", "nickname": "   "}),
        json!({"operationName": "RequestChat", "nickname": "\t\n "}),
    ] {
        let res = server.post("/api/v2/chats", &body);
        assert_refused(&res, 400, 1, &format!("RequestChat {body}"));
    }
    assert_eq!(chat_count(&server), 0, "no chat was created");
}

#[test]
fn a_missing_or_blank_text_is_refused_with_status_code_1() {
    let server = manual_server();
    let id = server.request_chat("James");
    let before = snapshot(&server, &id);
    for body in [
        json!({"operationName": "SendMessage"}),
        json!({"operationName": "SendMessage", "text": ""}),
        json!({"operationName": "SendMessage", "text": "    "}),
        json!({"operationName": "SendMessage", "text": "\n\t \r\n"}),
    ] {
        let res = server.op(&id, body.clone());
        assert_refused(&res, 400, 1, &format!("SendMessage {body}"));
    }
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");
}

#[test]
fn a_body_that_is_empty_or_not_a_json_object_is_refused_with_status_code_1() {
    let server = manual_server();
    let id = server.request_chat("James");
    let before = snapshot(&server, &id);
    let bodies: [&[u8]; 12] = [
        b"",
        b"   \n",
        b"not json",
        b"operationName=RequestChat&nickname=James",
        b"{\"operationName\":\"RequestChat\",",
        b"\xff\xfe\xfd",
        b"[]",
        b"[{\"operationName\":\"Complete\"}]",
        b"\"Complete\"",
        b"42",
        b"true",
        b"null",
    ];
    let paths = [
        "/api/v2/chats".to_string(),
        format!("/api/v2/chats/{id}"),
        format!("/__admin/chats/{id}/agent"),
    ];
    for path in &paths {
        for body in bodies {
            let res = post_raw(&server, path, body);
            let what = format!("POST {path} with body {:?}", String::from_utf8_lossy(body));
            assert_refused(&res, 400, 1, &what);
        }
    }
    assert_eq!(chat_count(&server), 1, "no chat was created");
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");
}

#[test]
fn an_unknown_operation_name_is_refused_with_status_code_2() {
    let server = manual_server();
    let id = server.request_chat("James");
    let before = snapshot(&server, &id);
    for name in ["Fly", "DeleteChat", "RequestChats", "SendMessages"] {
        let body = json!({"operationName": name, "nickname": "James", "text": "hi"});
        assert_refused(
            &server.post("/api/v2/chats", &body),
            400,
            2,
            &format!("POST /api/v2/chats {body}"),
        );
        assert_refused(
            &server.op(&id, body.clone()),
            400,
            2,
            &format!("POST /api/v2/chats/{{id}} {body}"),
        );
    }
    assert_eq!(chat_count(&server), 1, "no chat was created");
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");
}

#[test]
fn parameters_of_the_wrong_json_type_are_refused_with_status_code_2() {
    let server = manual_server();
    let id = server.request_chat("James");
    let before = snapshot(&server, &id);

    for body in [
        json!({"operationName": "RequestChat", "nickname": 5}),
        json!({"operationName": "RequestChat", "nickname": ["James"]}),
        json!({"operationName": "RequestChat", "nickname": "James", "userData": "x"}),
        json!({"operationName": "RequestChat", "nickname": "James", "userData": [1, 2]}),
        json!({"operationName": "RequestChat", "nickname": "James", "userData": 7}),
        json!({"operationName": "RequestChat", "nickname": "James", "subject": []}),
        json!({"operationName": "RequestChat", "nickname": "James", "subject": 12}),
        json!({"operationName": "RequestChat", "nickname": "James", "endpoint": 1}),
        json!({"operationName": "RequestChat", "nickname": "James", "endpoint": {"a": 1}}),
        json!({"operationName": 3, "nickname": "James"}),
        json!({"operationName": ["RequestChat"], "nickname": "James"}),
    ] {
        let res = server.post("/api/v2/chats", &body);
        assert_refused(&res, 400, 2, &format!("RequestChat {body}"));
    }
    assert_eq!(chat_count(&server), 1, "no chat was created");

    for body in [
        json!({"operationName": "SendMessage", "text": true}),
        json!({"operationName": "SendMessage", "text": 5}),
        json!({"operationName": "SendMessage", "text": {"t": "hi"}}),
        json!({"operationName": 3}),
        json!({"operationName": true, "text": "hi"}),
    ] {
        let res = server.op(&id, body.clone());
        assert_refused(&res, 400, 2, &format!("POST /api/v2/chats/{{id}} {body}"));
    }
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");
}

#[test]
fn operations_outside_the_chat_capabilities_are_refused_with_status_code_2() {
    let server = manual_server();
    let id = server.request_chat("James");

    // RequestChat is never a capability of an existing chat.
    let before = snapshot(&server, &id);
    let res = server.op(&id, json!({"operationName": "RequestChat", "nickname": "James"}));
    assert_refused(&res, 400, 2, "RequestChat posted to a live chat");
    assert_eq!(snapshot(&server, &id), before);
    assert_eq!(chat_count(&server), 1);

    // After Complete the chat is Idle: every operation is refused and changes nothing.
    assert_eq!(server.complete(&id).status, 200);
    let before = snapshot(&server, &id);
    assert_eq!(before["state"], "Idle");
    for op in [
        json!({"operationName": "SendMessage", "text": "Still there?"}),
        json!({"operationName": "SendStartTypingNotification"}),
        json!({"operationName": "SendStopTypingNotification"}),
        json!({"operationName": "Complete"}),
    ] {
        let res = server.op(&id, op.clone());
        assert_refused(&res, 400, 2, &format!("{op} on an Idle chat"));
    }
    // The agent side follows the same rule.
    let res = server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    assert_refused(&res, 400, 2, "agent join on an Idle chat");
    assert_eq!(snapshot(&server, &id), before, "the Idle chat did not change");

    // GetChat and GetTranscript still work.
    assert_eq!(server.chat(&id)["state"], "Idle");
    let polled = server.poll(&id);
    assert_eq!(indexes(&polled), [1, 2, 3], "{polled:?}");
    assert_eq!(polled[2]["type"], "ParticipantLeft");
    assert_eq!(server.transcript_from(&id, 0), polled);
}

#[test]
fn a_bad_index_is_refused_with_status_code_2_and_consumes_nothing() {
    let server = manual_server();
    let id = server.request_chat("James");
    for index in ["-1", "abc", "1.5", "99999999999999999999999", "", "1e2", "0x10"] {
        let path = format!("/api/v2/chats/{id}/messages?index={index}");
        assert_refused(&server.get(&path), 400, 2, &format!("GET {path}"));
    }
    // Nothing was delivered: the next poll still has both ParticipantJoined messages.
    assert_eq!(indexes(&server.poll(&id)), [1, 2]);
}

#[test]
fn without_the_right_apikey_the_customer_api_answers_401_when_key_checking_is_on() {
    let server =
        Server::builder().arg("--agent-mode", "manual").arg("--require-apikey", "true").start();
    let res = server.request(
        "POST",
        "/api/v2/chats",
        &[("Content-Type", "application/json"), ("apikey", APIKEY)],
        br#"{"operationName":"RequestChat","nickname":"James"}"#,
    );
    assert_eq!(res.status, 200, "RequestChat with the key: {}", res.text());
    let id = res.json()["id"].as_str().unwrap().to_string();
    let before = snapshot(&server, &id);

    let lower_key = APIKEY.to_lowercase();
    let wrong_keys: [Option<&str>; 4] = [None, Some("wrong"), Some(""), Some(&lower_key)];
    let requests: Vec<(&str, String, &[u8])> = vec![
        (
            "POST",
            "/api/v2/chats".to_string(),
            br#"{"operationName":"RequestChat","nickname":"Eve"}"#,
        ),
        (
            "POST",
            format!("/api/v2/chats/{id}"),
            br#"{"operationName":"SendMessage","text":"sneaky"}"#,
        ),
        ("POST", format!("/api/v2/chats/{id}"), br#"{"operationName":"Complete"}"#),
        ("GET", format!("/api/v2/chats/{id}"), b""),
        ("GET", format!("/api/v2/chats/{id}/messages"), b""),
        ("GET", format!("/api/v2/chats/{id}/messages?index=0"), b""),
    ];
    for key in wrong_keys {
        for (method, path, body) in &requests {
            let mut headers = vec![("Content-Type", "application/json"), ("Origin", ORIGIN)];
            if let Some(k) = key {
                headers.push(("apikey", k));
            }
            let res = server.request(method, path, &headers, body);
            assert_refused(&res, 401, 3, &format!("{method} {path} with apikey {key:?}"));
        }
    }
    assert_eq!(chat_count(&server), 1, "no chat was created");
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");
    // The refused polls delivered nothing.
    let res =
        server.request("GET", &format!("/api/v2/chats/{id}/messages"), &[("apikey", APIKEY)], b"");
    assert_eq!(indexes(&messages(&res)), [1, 2]);
}

#[test]
fn an_unknown_or_malformed_chat_id_is_404_with_status_code_6() {
    let server = manual_server();
    let id = server.request_chat("James");
    let before = snapshot(&server, &id);
    let mut almost = id.clone();
    almost.replace_range(35..36, "g");
    let unknown = [
        uuid::Uuid::new_v4().to_string(),
        "00000000-0000-0000-0000-000000000000".to_string(),
        "not-a-uuid".to_string(),
        "12345".to_string(),
        almost,
        id[..35].to_string(),
        format!("{id}0"),
        "%3Cscript%3E".to_string(),
    ];
    for bad in &unknown {
        let requests: [(&str, String, Value); 8] = [
            ("GET", format!("/api/v2/chats/{bad}"), Value::Null),
            (
                "POST",
                format!("/api/v2/chats/{bad}"),
                json!({"operationName": "SendMessage", "text": "hi"}),
            ),
            ("POST", format!("/api/v2/chats/{bad}"), json!({"operationName": "Complete"})),
            ("GET", format!("/api/v2/chats/{bad}/messages"), Value::Null),
            ("GET", format!("/api/v2/chats/{bad}/messages?index=0"), Value::Null),
            ("GET", format!("/__admin/chats/{bad}"), Value::Null),
            (
                "POST",
                format!("/__admin/chats/{bad}/agent"),
                json!({"action": "join", "nickname": "Ann"}),
            ),
            ("GET", format!("/__admin/chats/{bad}/messages"), Value::Null),
        ];
        for (method, path, body) in requests {
            let res = if method == "GET" { server.get(&path) } else { server.post(&path, &body) };
            assert_refused(&res, 404, 6, &format!("{method} {path}"));
        }
    }
    assert_eq!(chat_count(&server), 1, "no chat was created");
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");
}

#[test]
fn an_unknown_route_is_404_with_status_code_6() {
    let server = manual_server();
    let id = server.request_chat("James");
    let before = snapshot(&server, &id);
    let paths = [
        "/api".to_string(),
        "/api/v2".to_string(),
        "/api/v2/chat".to_string(),
        "/api/v1/chats".to_string(),
        "/api/v3/chats".to_string(),
        format!("/api/v2/chats/{id}/typing"),
        format!("/api/v2/chats/{id}/messages/1"),
        "/__admin".to_string(),
        "/__admin/nope".to_string(),
        format!("/__admin/chats/{id}/agent/extra"),
        "/nope".to_string(),
        "/favicon.ico".to_string(),
    ];
    for path in &paths {
        assert_refused(&server.get(path), 404, 6, &format!("GET {path}"));
        let body = json!({"operationName": "SendMessage", "text": "lost", "nickname": "X"});
        assert_refused(&server.post(path, &body), 404, 6, &format!("POST {path}"));
    }
    assert_eq!(chat_count(&server), 1, "no chat was created");
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");
}

#[test]
fn a_body_over_the_configured_limit_is_413_with_status_code_2() {
    let server = Server::builder().arg("--agent-mode", "manual").arg("--max-body", "2KiB").start();
    let id = server.request_chat("James");
    let res = server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    assert_eq!(res.status, 200, "agent join: {}", res.text());
    let before = snapshot(&server, &id);
    let three_kib = 3 * 1024;

    let body = padded(
        r#"{"operationName":"RequestChat","nickname":"James","subject":""#,
        r#""}"#,
        three_kib,
    );
    assert_refused(
        &post_raw(&server, "/api/v2/chats", &body),
        413,
        2,
        "RequestChat with a 3 KiB body",
    );
    assert_refused(
        &chunked_post(&server, "/api/v2/chats", &body),
        413,
        2,
        "RequestChat with a chunked 3 KiB body",
    );
    let body = padded(SEND_BEFORE, SEND_AFTER, three_kib);
    let path = format!("/api/v2/chats/{id}");
    assert_refused(&post_raw(&server, &path, &body), 413, 2, "SendMessage with a 3 KiB body");
    assert_refused(
        &chunked_post(&server, &path, &body),
        413,
        2,
        "SendMessage with a chunked 3 KiB body",
    );
    let body = padded(r#"{"action":"message","text":""#, r#""}"#, three_kib);
    assert_refused(
        &post_raw(&server, &format!("/__admin/chats/{id}/agent"), &body),
        413,
        2,
        "agent message with a 3 KiB body",
    );
    assert_eq!(chat_count(&server), 1, "no chat was created");
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");

    // Under the limit is fine, framed either way.
    let body = padded(SEND_BEFORE, SEND_AFTER, 2000);
    let res = post_raw(&server, &path, &body);
    assert_eq!(res.status, 200, "a 2000-byte body: {}", res.text());
    let body = padded(SEND_BEFORE, SEND_AFTER, 1500);
    let res = chunked_post(&server, &path, &body);
    assert_eq!(res.status, 200, "a chunked 1500-byte body: {}", res.text());
    let sent = customer_texts(&server.all_messages(&id));
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].len(), 2000 - SEND_BEFORE.len() - SEND_AFTER.len());
    assert_eq!(sent[1].len(), 1500 - SEND_BEFORE.len() - SEND_AFTER.len());
}

#[test]
fn the_default_body_limit_is_64_kib() {
    // A text cap above the body limit, so only the body limit is in play here.
    let server =
        Server::builder().arg("--agent-mode", "manual").arg("--max-text", "100000").start();
    let id = server.request_chat("James");
    let before = snapshot(&server, &id);
    let hundred_kib = 100 * 1024;

    let body = padded(
        r#"{"operationName":"RequestChat","nickname":"James","subject":""#,
        r#""}"#,
        hundred_kib,
    );
    assert_refused(
        &post_raw(&server, "/api/v2/chats", &body),
        413,
        2,
        "RequestChat with a 100 KiB body",
    );
    let path = format!("/api/v2/chats/{id}");
    let body = padded(SEND_BEFORE, SEND_AFTER, hundred_kib);
    assert_refused(&post_raw(&server, &path, &body), 413, 2, "SendMessage with a 100 KiB body");
    assert_eq!(chat_count(&server), 1, "no chat was created");
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");

    // 60 KiB is under the default limit.
    let body = padded(SEND_BEFORE, SEND_AFTER, 60 * 1024);
    let res = post_raw(&server, &path, &body);
    assert_eq!(res.status, 200, "a 60 KiB body: {}", res.text());
    let sent = customer_texts(&server.all_messages(&id));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].len(), 60 * 1024 - SEND_BEFORE.len() - SEND_AFTER.len());
}

#[test]
fn a_wrong_method_on_a_known_route_is_405_with_status_code_2() {
    let server = manual_server();
    let id = server.request_chat("James");
    let before = snapshot(&server, &id);
    let send = br#"{"operationName":"SendMessage","text":"via the wrong method"}"#;
    let create = br#"{"operationName":"RequestChat","nickname":"Eve"}"#;
    let join = br#"{"action":"join","nickname":"Ann"}"#;
    let chats = "/api/v2/chats".to_string();
    let chat = format!("/api/v2/chats/{id}");
    let transcript = format!("/api/v2/chats/{id}/messages");
    let health = "/__admin/health".to_string();
    let admin_chats = "/__admin/chats".to_string();
    let admin_chat = format!("/__admin/chats/{id}");
    let agent = format!("/__admin/chats/{id}/agent");
    let agent_messages = format!("/__admin/chats/{id}/messages");
    let cases: Vec<(&str, &String, &[u8])> = vec![
        ("GET", &chats, b""),
        ("PUT", &chats, create),
        ("DELETE", &chats, b""),
        ("PATCH", &chats, create),
        ("PUT", &chat, send),
        ("DELETE", &chat, b""),
        ("PATCH", &chat, send),
        ("POST", &transcript, send),
        ("PUT", &transcript, send),
        ("DELETE", &transcript, b""),
        ("POST", &health, b"{}"),
        ("DELETE", &health, b""),
        ("POST", &admin_chats, create),
        ("PUT", &admin_chats, b"{}"),
        ("POST", &admin_chat, join),
        ("DELETE", &admin_chat, b""),
        ("PUT", &admin_chat, join),
        ("GET", &agent, b""),
        ("PUT", &agent, join),
        ("DELETE", &agent, b""),
        ("POST", &agent_messages, b"{}"),
        ("DELETE", &agent_messages, b""),
    ];
    for (method, path, body) in cases {
        for path in [path.clone(), format!("{path}/")] {
            let res = server.request(
                method,
                &path,
                &[("Content-Type", "application/json"), ("Origin", ORIGIN)],
                body,
            );
            assert_refused(&res, 405, 2, &format!("{method} {path}"));
        }
    }
    assert_eq!(chat_count(&server), 1, "no chat was created or deleted");
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");
}

#[test]
fn the_agent_api_uses_the_same_validation_and_error_model() {
    let server = manual_server();
    let id = server.request_chat("James");
    let path = format!("/__admin/chats/{id}/agent");
    let before = snapshot(&server, &id);
    for (body, http, code) in [
        (json!({}), 400, 1),
        (json!({"nickname": "Ann"}), 400, 1),
        (json!({"action": ""}), 400, 1),
        (json!({"action": "  "}), 400, 1),
        (json!({"action": "dance"}), 400, 2),
        (json!({"action": 5}), 400, 2),
        (json!({"action": ["join"]}), 400, 2),
    ] {
        assert_refused(&server.post(&path, &body), http, code, &format!("agent {body}"));
    }
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");

    assert_eq!(server.agent(&id, json!({"action": "join", "nickname": "Ann"})).status, 200);
    let before = snapshot(&server, &id);
    for (body, http, code) in [
        (json!({"action": "message"}), 400, 1),
        (json!({"action": "message", "text": ""}), 400, 1),
        (json!({"action": "message", "text": " \n "}), 400, 1),
        (json!({"action": "message", "text": 5}), 400, 2),
        (json!({"action": "notice", "text": false}), 400, 2),
    ] {
        assert_refused(&server.post(&path, &body), http, code, &format!("agent {body}"));
    }
    assert_eq!(snapshot(&server, &id), before, "the chat did not change");
}

// ---- 3. HTTP behaviour ----

#[test]
fn every_path_works_with_and_without_a_trailing_slash() {
    let server = manual_server();
    for slash in ["", "/"] {
        let res = server.post(
            &format!("/api/v2/chats{slash}"),
            &json!({"operationName": "RequestChat", "nickname": "James"}),
        );
        assert_eq!(res.status, 200, "POST /api/v2/chats{slash}: {}", res.text());
        let id = res.json()["id"].as_str().unwrap().to_string();
        let chat = format!("/api/v2/chats/{id}{slash}");
        let res = server.post(
            &chat,
            &json!({"operationName": "SendMessage", "text": format!("slash {slash:?}")}),
        );
        assert_eq!(res.status, 200, "POST {chat}: {}", res.text());
        let res = server.get(&chat);
        assert_eq!(res.status, 200, "GET {chat}: {}", res.text());
        assert_eq!(res.json()["chat"]["id"], id);
        let path = format!("/api/v2/chats/{id}/messages{slash}");
        let res = server.get(&path);
        assert_eq!(indexes(&messages(&res)), [1, 2, 3], "GET {path}");
        let path = format!("/api/v2/chats/{id}/messages{slash}?index=2");
        assert_eq!(indexes(&messages(&server.get(&path))), [2, 3], "GET {path}");

        for path in [
            format!("/__admin/health{slash}"),
            format!("/__admin/chats{slash}"),
            format!("/__admin/chats/{id}{slash}"),
            format!("/__admin/chats/{id}/messages{slash}"),
        ] {
            let res = server.get(&path);
            assert_eq!(res.status, 200, "GET {path}: {}", res.text());
            assert_eq!(res.json()["statusCode"], 0, "GET {path}");
        }
        let path = format!("/__admin/chats/{id}/agent{slash}");
        let res = server.post(&path, &json!({"action": "join", "nickname": "Ann"}));
        assert_eq!(res.status, 200, "POST {path}: {}", res.text());
        assert_eq!(server.state(&id), "Chatting");

        let res = server.post(&chat, &json!({"operationName": "Complete"}));
        assert_eq!(res.status, 200, "Complete at {chat}: {}", res.text());
        assert_eq!(server.state(&id), "Idle");
        assert_eq!(customer_texts(&server.all_messages(&id)), [format!("slash {slash:?}")]);
    }
    assert_eq!(chat_count(&server), 2);
    let res = server.delete("/__admin/chats/");
    assert_eq!(res.status, 200, "DELETE /__admin/chats/: {}", res.text());
    assert_eq!(chat_count(&server), 0);
    server.request_chat("James");
    let res = server.delete("/__admin/chats");
    assert_eq!(res.status, 200, "DELETE /__admin/chats: {}", res.text());
    assert_eq!(chat_count(&server), 0);
}

#[test]
fn the_json_body_is_read_whatever_the_content_type() {
    let server = manual_server();
    let content_types = [
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        None,
    ];
    for ct in content_types {
        let headers: Vec<(&str, &str)> = ct.iter().map(|v| ("Content-Type", *v)).collect();
        let post = |path: &str, body: Value| {
            server.request("POST", path, &headers, body.to_string().as_bytes())
        };
        let res = post(
            "/api/v2/chats",
            json!({"operationName": "RequestChat", "nickname": "James", "subject": format!("{ct:?}")}),
        );
        assert_eq!(res.status, 200, "RequestChat as {ct:?}: {}", res.text());
        let id = res.json()["id"].as_str().unwrap().to_string();
        let chat = format!("/api/v2/chats/{id}");
        let text = format!("sent as {ct:?} — ünïcode ✓");
        for body in [
            json!({"operationName": "SendStartTypingNotification"}),
            json!({"operationName": "SendMessage", "text": text}),
            json!({"operationName": "SendStopTypingNotification"}),
        ] {
            let res = post(&chat, body.clone());
            assert_eq!(res.status, 200, "{body} as {ct:?}: {}", res.text());
        }
        let res = post(
            &format!("/__admin/chats/{id}/agent"),
            json!({"action": "join", "nickname": "Ann"}),
        );
        assert_eq!(res.status, 200, "agent join as {ct:?}: {}", res.text());
        let res = post(&chat, json!({"operationName": "Complete"}));
        assert_eq!(res.status, 200, "Complete as {ct:?}: {}", res.text());

        let detail = server.admin_chat(&id);
        assert_eq!(detail["subject"], format!("{ct:?}"));
        assert_eq!(detail["state"], "Idle");
        assert_eq!(customer_texts(&server.all_messages(&id)), [text]);
    }
}

#[test]
fn every_response_carries_cors_and_nosniff_headers_including_errors() {
    let server = Server::builder().arg("--agent-mode", "manual").arg("--max-body", "2KiB").start();
    let id = server.request_chat("James");
    let chat = format!("/api/v2/chats/{id}");
    let big = padded(SEND_BEFORE, SEND_AFTER, 3 * 1024);
    let send = br#"{"operationName":"SendMessage","text":"hi"}"#.to_vec();
    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        (
            "POST",
            "/api/v2/chats".into(),
            br#"{"operationName":"RequestChat","nickname":"James"}"#.to_vec(),
            200,
        ),
        ("POST", chat.clone(), send.clone(), 200),
        ("GET", chat.clone(), vec![], 200),
        ("GET", format!("{chat}/messages"), vec![], 200),
        ("GET", format!("{chat}/messages?index=0"), vec![], 200),
        ("POST", chat.clone(), b"".to_vec(), 400),
        ("POST", chat.clone(), br#"{"operationName":"Fly"}"#.to_vec(), 400),
        ("GET", format!("{chat}/messages?index=abc"), vec![], 400),
        ("GET", format!("/api/v2/chats/{}", uuid::Uuid::new_v4()), vec![], 404),
        ("GET", "/api/v2/nope".into(), vec![], 404),
        ("POST", "/nope".into(), send.clone(), 404),
        ("DELETE", chat.clone(), vec![], 405),
        ("GET", "/api/v2/chats".into(), vec![], 405),
        ("POST", chat.clone(), big, 413),
        ("GET", "/__admin/health".into(), vec![], 200),
        ("GET", "/__admin/chats".into(), vec![], 200),
        ("GET", format!("/__admin/chats/{id}"), vec![], 200),
        ("GET", "/__admin/chats/nope".into(), vec![], 404),
        ("PUT", "/__admin/health".into(), vec![], 405),
    ];
    for (method, path, body, status) in &cases {
        for origin in [Some(ORIGIN), None] {
            let mut headers = vec![("Content-Type", "application/json")];
            if let Some(o) = origin {
                headers.push(("Origin", o));
            }
            let res = server.request(method, path, &headers, body);
            let what = format!("{method} {path} (Origin {origin:?})");
            assert_eq!(res.status, *status, "{what}: {}", res.text());
            assert_common_headers(&res, &what);
        }
    }
    // Also the redirect to the web client and the client itself.
    for path in ["/", "/client/"] {
        let res = server.request("GET", path, &[("Origin", ORIGIN)], b"");
        assert_common_headers(&res, &format!("GET {path} (HTTP {})", res.status));
    }
}

#[test]
fn a_preflight_on_every_api_path_allows_the_widget_methods_and_headers() {
    let server = manual_server();
    let id = server.request_chat("James");
    let before = snapshot(&server, &id);
    let paths = [
        "/api/v2/chats".to_string(),
        "/api/v2/chats/".to_string(),
        format!("/api/v2/chats/{id}"),
        format!("/api/v2/chats/{id}/"),
        format!("/api/v2/chats/{id}/messages"),
        format!("/api/v2/chats/{id}/messages/"),
        format!("/api/v2/chats/{id}/messages?index=0"),
        format!("/__admin/chats/{id}/agent"),
    ];
    for path in &paths {
        for method in ["POST", "GET"] {
            assert_preflight_allowed(&preflight(&server, path, method), path);
        }
    }
    assert_eq!(chat_count(&server), 1, "a preflight creates nothing");
    assert_eq!(snapshot(&server, &id), before, "a preflight changes nothing");
    // It does not consume the transcript either.
    assert_eq!(indexes(&server.poll(&id)), [1, 2]);
}

#[test]
fn with_key_checking_on_the_preflight_passes_the_right_key_works_and_admin_needs_no_key() {
    let server =
        Server::builder().arg("--agent-mode", "manual").arg("--require-apikey", "true").start();

    // The browser's preflight carries no apikey: it must pass all the same.
    for path in [
        "/api/v2/chats".to_string(),
        format!("/api/v2/chats/{}", uuid::Uuid::new_v4()),
        format!("/api/v2/chats/{}/messages", uuid::Uuid::new_v4()),
    ] {
        assert_preflight_allowed(&preflight(&server, &path, "POST"), &path);
    }

    // The widget's requests with the documented key (header names are case-insensitive).
    for name in ["apikey", "APIKEY", "ApiKey"] {
        let call = |method: &str, path: &str, body: &[u8]| {
            server.request(
                method,
                path,
                &[
                    ("Content-Type", "application/json"),
                    (name, APIKEY),
                    ("ContactCenterId", "0b5ff4a0-7a2f-4c4d-9a3b-1f2e3d4c5b6a"),
                    ("Origin", ORIGIN),
                ],
                body,
            )
        };
        let res =
            call("POST", "/api/v2/chats", br#"{"operationName":"RequestChat","nickname":"James"}"#);
        assert_eq!(res.status, 200, "RequestChat with {name}: {}", res.text());
        assert_common_headers(&res, "RequestChat with the key");
        let id = res.json()["id"].as_str().unwrap().to_string();
        let chat = format!("/api/v2/chats/{id}");
        let res = call("POST", &chat, br#"{"operationName":"SendMessage","text":"with the key"}"#);
        assert_eq!(res.status, 200, "SendMessage with {name}: {}", res.text());
        let res = call("GET", &chat, b"");
        assert_eq!(res.status, 200, "GetChat with {name}: {}", res.text());
        let res = call("GET", &format!("{chat}/messages"), b"");
        assert_eq!(indexes(&messages(&res)), [1, 2, 3], "GetTranscript with {name}");

        // The admin API is not key-checked.
        for path in [
            "/__admin/health".to_string(),
            "/__admin/chats".to_string(),
            format!("/__admin/chats/{id}"),
            format!("/__admin/chats/{id}/messages"),
        ] {
            let res = server.get(&path);
            assert_eq!(res.status, 200, "GET {path} without a key: {}", res.text());
        }
        let res = server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
        assert_eq!(res.status, 200, "agent join without a key: {}", res.text());

        let res = call("POST", &chat, br#"{"operationName":"Complete"}"#);
        assert_eq!(res.status, 200, "Complete with {name}: {}", res.text());
        assert_eq!(server.admin_chat(&id)["state"], "Idle");
    }
    let res = server.delete("/__admin/chats");
    assert_eq!(res.status, 200, "DELETE /__admin/chats without a key: {}", res.text());
}

#[test]
fn the_contact_center_id_header_is_accepted_on_every_operation() {
    let server = manual_server();
    for (name, value) in [
        ("ContactCenterId", "0b5ff4a0-7a2f-4c4d-9a3b-1f2e3d4c5b6a"),
        ("contactcenterid", "any-value-at-all"),
    ] {
        let call = |method: &str, path: &str, body: &[u8]| {
            server.request(
                method,
                path,
                &[("Content-Type", "application/json"), (name, value)],
                body,
            )
        };
        let res =
            call("POST", "/api/v2/chats", br#"{"operationName":"RequestChat","nickname":"James"}"#);
        assert_eq!(res.status, 200, "RequestChat with {name}: {}", res.text());
        let id = res.json()["id"].as_str().unwrap().to_string();
        let chat = format!("/api/v2/chats/{id}");
        for body in [
            &br#"{"operationName":"SendStartTypingNotification"}"#[..],
            br#"{"operationName":"SendMessage","text":"hello"}"#,
            br#"{"operationName":"SendStopTypingNotification"}"#,
        ] {
            let res = call("POST", &chat, body);
            assert_eq!(
                res.status,
                200,
                "{} with {name}: {}",
                String::from_utf8_lossy(body),
                res.text()
            );
        }
        let res = call("GET", &chat, b"");
        assert_eq!(res.status, 200, "GetChat with {name}: {}", res.text());
        let res = call("GET", &format!("{chat}/messages?index=1"), b"");
        assert_eq!(indexes(&messages(&res)), [1, 2, 3, 4, 5]);
        let res = call("POST", &chat, br#"{"operationName":"Complete"}"#);
        assert_eq!(res.status, 200, "Complete with {name}: {}", res.text());
    }
}

#[test]
fn uppercase_chat_ids_are_accepted() {
    let server = manual_server();
    let id = server.request_chat("James");
    let upper = id.to_uppercase();
    assert_ne!(upper, id, "the id has letters");

    let res = server.get(&format!("/api/v2/chats/{upper}"));
    assert_eq!(res.status, 200, "GetChat with {upper}: {}", res.text());
    assert_eq!(res.json()["chat"]["state"], "WaitingForAgent");
    let res = server.op(&upper, json!({"operationName": "SendMessage", "text": "shouting id"}));
    assert_eq!(res.status, 200, "SendMessage with {upper}: {}", res.text());
    let res = server.get(&format!("/api/v2/chats/{upper}/messages?index=0"));
    let all = messages(&res);
    assert_eq!(customer_texts(&all), ["shouting id"]);
    let res = server.get(&format!("/__admin/chats/{upper}"));
    assert_eq!(res.status, 200, "admin chat with {upper}: {}", res.text());
    let res = server.post(
        &format!("/__admin/chats/{upper}/agent"),
        &json!({"action": "join", "nickname": "Ann"}),
    );
    assert_eq!(res.status, 200, "agent join with {upper}: {}", res.text());
    let res = server.op(&upper, json!({"operationName": "Complete"}));
    assert_eq!(res.status, 200, "Complete with {upper}: {}", res.text());
    // It was the same chat all along.
    assert_eq!(server.state(&id), "Idle");
    assert_eq!(customer_texts(&server.all_messages(&id)), ["shouting id"]);
    assert_eq!(chat_count(&server), 1);
}

// ---- 4. text and chat data kept as given ----

#[test]
fn message_text_is_stored_and_returned_byte_for_byte() {
    let server = manual_server();
    let id = server.request_chat("James");
    let long: String = "abcdé世😀\u{202e}".chars().cycle().take(10_000).collect();
    let originals: Vec<String> = vec![
        "Hello 👋🏽 世界 こんにちは 안녕 مرحبا بالعالم שלום עולם".to_string(),
        "<img src=x onerror=alert(1)>".to_string(),
        "<script>alert('x')</script>&amp; &lt;b&gt;".to_string(),
        r#"She said "hi" and 'bye' \ back\\slash \n not a newline \u0041"#.to_string(),
        "'; DROP TABLE messages; --".to_string(),
        "Robert'); DELETE FROM chats WHERE ('1'='1".to_string(),
        "   leading and trailing spaces   ".to_string(),
        "line one\nline two\r\nline three\ttabbed\n".to_string(),
        "combining: e\u{301} ñ Å, zero width:\u{200b}|, BOM:\u{feff}|".to_string(),
        "right-to-left override \u{202e}abc\u{202c} and a NUL \u{0} inside".to_string(),
        "%s %d {} {{}} $1 ${x} `cmd`".to_string(),
        long,
    ];
    for text in &originals {
        let res = server.send_message(&id, text);
        assert_eq!(
            res.status,
            200,
            "SendMessage {:?}: {}",
            text.chars().take(40).collect::<String>(),
            res.text()
        );
    }
    let via_customer = customer_texts(&server.transcript_from(&id, 0));
    let via_admin = customer_texts(&server.all_messages(&id));
    assert_eq!(via_customer.len(), originals.len());
    for (i, original) in originals.iter().enumerate() {
        assert!(
            via_customer[i].as_bytes() == original.as_bytes(),
            "GetTranscript changed text #{i}: sent {original:?}, got {:?}",
            via_customer[i]
        );
        assert!(
            via_admin[i].as_bytes() == original.as_bytes(),
            "the admin view changed text #{i}: sent {original:?}, got {:?}",
            via_admin[i]
        );
    }
    assert_eq!(via_customer.last().unwrap().chars().count(), 10_000);

    // The SQL-looking texts did nothing to the database: the emulator works as before.
    let other = server.request_chat("Bobby");
    assert_eq!(server.send_message(&other, "still here?").status, 200);
    assert_eq!(chat_count(&server), 2);
    assert_eq!(server.all_messages(&id).len(), 2 + originals.len());
}

#[test]
fn nickname_and_subject_are_kept_as_given() {
    let server = manual_server();
    let nickname = "Zoë 🦀 <b>\"O'Brien\"</b> \\ 李小龍 'x'; DROP TABLE chats; --";
    let subject = "  Ünïcödé «subject» <i>x</i>\n'; DELETE FROM messages; --  ";
    let res = server.post(
        "/api/v2/chats",
        &json!({"operationName": "RequestChat", "nickname": nickname, "subject": subject}),
    );
    assert_eq!(res.status, 200, "RequestChat: {}", res.text());
    let id = res.json()["id"].as_str().unwrap().to_string();

    let chat = server.chat(&id);
    assert_eq!(chat["participants"][0]["nickname"], nickname);
    let all = server.transcript_from(&id, 0);
    assert_eq!(all[0]["from"]["nickname"], nickname);
    let detail = server.admin_chat(&id);
    assert_eq!(detail["nickname"], nickname);
    assert_eq!(detail["subject"], subject);
    let list = server.get("/__admin/chats").json();
    let entry = &list["chats"][0];
    assert_eq!(entry["id"], id);
    assert_eq!(entry["nickname"], nickname);
    assert_eq!(entry["subject"], subject);
}

#[test]
fn user_data_and_endpoint_are_stored_and_shown_by_the_admin_api() {
    let server = manual_server();
    let user_data = json!({
        "customerId": 42,
        "FirstName": "Zoë",
        "LastName": "O'Brien <b>",
        "emoji": "😀",
        "vip": true,
        "score": 1.5,
        "nothing": null,
        "tags": ["a", 2, false, {"deep": {"deeper": "yes"}}],
        "empty": {},
        "sql": "'; DROP TABLE chats; --"
    });
    let endpoint = "SMSServer-Customer/Endpoint 1 ✓";
    let res = server.post(
        "/api/v2/chats",
        &json!({
            "operationName": "RequestChat",
            "nickname": "James",
            "subject": "Billing",
            "userData": user_data,
            "endpoint": endpoint
        }),
    );
    assert_eq!(res.status, 200, "RequestChat: {}", res.text());
    let id = res.json()["id"].as_str().unwrap().to_string();
    let detail = server.admin_chat(&id);
    assert_eq!(detail["userData"], user_data);
    assert_eq!(detail["endpoint"], endpoint);
    assert_eq!(detail["subject"], "Billing");
    assert_eq!(detail["nickname"], "James");

    // An empty userData object is an object all the same.
    let res = server.post(
        "/api/v2/chats",
        &json!({"operationName": "RequestChat", "nickname": "Ann", "userData": {}}),
    );
    assert_eq!(res.status, 200, "RequestChat with userData {{}}: {}", res.text());
    let other = res.json()["id"].as_str().unwrap().to_string();
    assert_eq!(server.admin_chat(&other)["userData"], json!({}));
}

#[test]
fn subject_is_optional_and_empty_when_absent() {
    let server = manual_server();
    let res =
        server.post("/api/v2/chats", &json!({"operationName": "RequestChat", "nickname": "James"}));
    assert_eq!(res.status, 200, "RequestChat without subject: {}", res.text());
    let id = res.json()["id"].as_str().unwrap().to_string();
    assert_eq!(server.admin_chat(&id)["subject"], "");
    let list = server.get("/__admin/chats").json();
    assert_eq!(list["chats"][0]["id"], id);
    assert_eq!(list["chats"][0]["subject"], "");
    assert_eq!(server.state(&id), "WaitingForAgent");
}

// ---- 5. GetTranscript with index ----

/// A manual-mode chat with nine messages: two joins, the agent's join, three customer texts,
/// an agent text, and the agent's typing.
fn chat_with_nine_messages(server: &Server) -> String {
    let id = server.request_chat("James");
    assert_eq!(server.agent(&id, json!({"action": "join", "nickname": "Ann"})).status, 200);
    for text in ["one", "two", "three"] {
        assert_eq!(server.send_message(&id, text).status, 200);
    }
    for body in [
        json!({"action": "message", "text": "four"}),
        json!({"action": "typingStarted"}),
        json!({"action": "typingStopped"}),
    ] {
        assert_eq!(server.agent(&id, body.clone()).status, 200, "{body}");
    }
    assert_eq!(server.all_messages(&id).len(), 9);
    id
}

#[test]
fn index_0_and_index_1_both_return_the_whole_transcript() {
    let server = manual_server();
    let id = chat_with_nine_messages(&server);
    let all = server.all_messages(&id);
    let from_0 = server.transcript_from(&id, 0);
    let from_1 = server.transcript_from(&id, 1);
    assert_eq!(indexes(&from_0), (1..=9).collect::<Vec<i64>>());
    assert_eq!(from_0, all);
    assert_eq!(from_1, all);
    // Repeatable: index reads return the same whatever the cursor did.
    assert_eq!(server.transcript_from(&id, 0), all);
}

#[test]
fn index_n_returns_every_message_from_n_on() {
    let server = manual_server();
    let id = chat_with_nine_messages(&server);
    let all = server.all_messages(&id);
    for n in 1..=9u64 {
        let got = server.transcript_from(&id, n);
        let expected: Vec<i64> = (n as i64..=9).collect();
        assert_eq!(indexes(&got), expected, "index={n}");
        assert_eq!(got[..], all[(n as usize - 1)..], "index={n} gives the same messages");
    }
    // Reading with index moved the cursor to the last message returned: no unread left.
    assert_eq!(server.poll(&id), Vec::<Value>::new());
    // A new message is found from its own index.
    assert_eq!(server.send_message(&id, "five").status, 200);
    let got = server.transcript_from(&id, 10);
    assert_eq!(indexes(&got), [10]);
    assert_eq!(got[0]["text"], "five");
}

#[test]
fn an_index_past_the_end_returns_no_messages() {
    let server = manual_server();
    let id = chat_with_nine_messages(&server);
    for n in [10u64, 11, 1000, i64::MAX as u64] {
        let res = server.get(&format!("/api/v2/chats/{id}/messages?index={n}"));
        assert_eq!(res.status, 200, "index={n}: {}", res.text());
        assert_eq!(res.json(), json!({"messages": [], "statusCode": 0}), "index={n}");
    }
    // Nothing was returned, so nothing was consumed: a poll still gets everything.
    assert_eq!(indexes(&server.poll(&id)), (1..=9).collect::<Vec<i64>>());
}
