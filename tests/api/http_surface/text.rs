//! Text and chat data kept as given: message texts byte for byte, nickname, subject, userData
//! and endpoint.

use super::{chat_count, customer_texts};
use crate::helpers::Server;
use serde_json::json;

#[test]
fn message_text_is_stored_and_returned_byte_for_byte() {
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
