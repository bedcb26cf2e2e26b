//! Property-based tests with proptest: generated bodies, JSON values, paths, ids, queries,
//! `index` values and message texts, each answered as the contract says, by one emulator shared
//! by the properties running at the same time.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, Weak};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};

use crate::helpers::{Response, Server};

use super::{assert_still_healthy, gws_error, is_json_type, send, show, MAX_BODY, MAX_TEXT};

const OPERATIONS: [&str; 5] = [
    "RequestChat",
    "SendMessage",
    "SendStartTypingNotification",
    "SendStopTypingNotification",
    "Complete",
];
const ACTIONS: [&str; 8] =
    ["join", "message", "typingStarted", "typingStopped", "pushUrl", "notice", "leave", "complete"];
/// The GWS codes the error table (docs/api.md section 4) allows with each HTTP status.
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

/// The refusal the error table (docs/api.md section 4) prescribes for `body` posted to `route` (an existing chat),
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
fn post_and_check(
    server: &Server,
    id: &str,
    route: Route,
    body: &[u8],
) -> Result<(), TestCaseError> {
    let path = route.path(id);
    let res = send(server, "POST", &path, body).map_err(fail)?;
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
        post_and_check(&server, &id, route, &body)
    });
    assert_still_healthy(&server);
}

#[test]
fn property_arbitrary_json_values_as_a_body_get_a_gws_answer() {
    let server = shared_server();
    let id = server.request_chat("Values");
    check("arbitrary JSON values", 300, (route(), json_value()), |(route, value)| {
        post_and_check(&server, &id, route, value.to_string().as_bytes())
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
        |(route, value)| post_and_check(&server, &id, route, value.to_string().as_bytes()),
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
            let res = send(&server, method, &target, b"").map_err(fail)?;
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
        let res = send(&server, "GET", &target, b"").map_err(fail)?;
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
        let res = send(&server, "POST", &chat, body.as_bytes()).map_err(fail)?;
        prop_assert!(res.status == 200, "SendMessage: {}", show(&res));
        prop_assert_eq!(contract("POST", &chat, &res).map_err(fail)?, Some(0));
        // The customer's next poll holds exactly this message, with exactly this text (equal
        // strings are equal UTF-8 bytes).
        let res = send(&server, "GET", &format!("{chat}/messages"), b"").map_err(fail)?;
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
        let res =
            send(&server, "GET", &format!("{chat}/messages?index={index}"), b"").map_err(fail)?;
        let again: Value = serde_json::from_slice(&res.body).map_err(|e| fail(e.to_string()))?;
        prop_assert_eq!(again["messages"][0]["text"].as_str(), Some(text.as_str()));
        Ok(())
    });
    assert_still_healthy(&server);
}
