//! HTTP behaviour: trailing slashes, content types, CORS and `nosniff` on every answer, the
//! preflight, the apikey switch, the ContactCenterId header, uppercase ids.

use super::{
    assert_common_headers, assert_preflight_allowed, chat_count, customer_texts, padded, preflight,
    snapshot, ORIGIN, SEND_AFTER, SEND_BEFORE,
};
use crate::helpers::{indexes, messages, Server, APIKEY};
use serde_json::{json, Value};

#[test]
fn every_path_works_with_and_without_a_trailing_slash() {
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
