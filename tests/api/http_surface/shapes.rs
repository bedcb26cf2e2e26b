//! docs/api.md section 2: the exact success shapes of RequestChat, the chat operations, GetChat and
//! GetTranscript.

use super::{assert_common_headers, capabilities, customer, keys, now_ms, set, OPEN_CAPABILITIES};
use crate::helpers::Server;
use serde_json::{json, Value};

#[test]
fn request_chat_answers_exactly_id_status_code_and_path() {
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
    let server = Server::manual();
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
