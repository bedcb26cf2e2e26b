//! Every row of the error table (docs/api.md section 4), and that a refused request changes nothing.

use super::{
    assert_refused, chat_count, chunked_post, customer_texts, padded, post_raw, snapshot, ORIGIN,
    SEND_AFTER, SEND_BEFORE,
};
use crate::helpers::{indexes, messages, Server, APIKEY};
use serde_json::{json, Value};

#[test]
fn a_missing_or_blank_operation_name_is_refused_with_status_code_1() {
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
