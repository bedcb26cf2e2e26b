//! The README's quick tour, as a new user does it: request a chat with curl's default form
//! content type, wait for the agent, ask a question, read the answer, complete.

use std::time::Duration;

use crate::helpers::{texts, Server};
use serde_json::Value;

#[test]
fn a_customer_chat_from_request_to_complete() {
    let server = Server::start();

    // curl -d sends application/x-www-form-urlencoded; the body is JSON all the same.
    let res = server.request(
        "POST",
        "/api/v2/chats",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        br#"{"operationName":"RequestChat","nickname":"James","subject":"Question about relativity"}"#,
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["statusCode"], 0);
    let id = body["id"].as_str().unwrap().to_string();
    let uuid = uuid::Uuid::parse_str(&id).expect("the id is a UUID");
    assert_eq!(uuid.get_version_num(), 4);
    assert_eq!(body["path"], format!("/api/v2/chats/{id}"));

    // The agent joins by itself.
    let chat = server.wait_for("the agent to join", Duration::from_secs(10), || {
        let chat = server.chat(&id);
        (chat["state"] == "Chatting").then_some(chat)
    });
    let agent = chat["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "Agent")
        .cloned()
        .expect("the agent is among the participants");
    assert_eq!(agent["participantId"], "3");

    let res = server.send_message(&id, "Are you there?");
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), serde_json::json!({"statusCode": 0}));

    // The bot answers; polling delivers each message once.
    let mut received: Vec<Value> = Vec::new();
    server.wait_for("the bot's answer", Duration::from_secs(10), || {
        received.extend(server.poll(&id));
        texts(&received, "Text").contains(&"Good question...".to_string()).then_some(())
    });
    let answer = received.iter().find(|m| m["text"] == "Good question...").unwrap();
    assert_eq!(answer["from"], agent);
    // Wait for the TypingStopped that follows the answer, then nothing is new.
    server.wait_for("TypingStopped after the answer", Duration::from_secs(10), || {
        received.extend(server.poll(&id));
        (received.last().unwrap()["type"] == "TypingStopped").then_some(())
    });
    assert_eq!(server.poll(&id), Vec::<Value>::new(), "a second poll returns nothing new");

    // index=0 returns the whole transcript, numbered 1, 2, 3, … with no gap.
    let all = server.transcript_from(&id, 0);
    assert_eq!(all, received, "index=0 gives everything that polling delivered, in order");
    for (i, m) in all.iter().enumerate() {
        assert_eq!(m["index"], i as i64 + 1);
        assert!(m["utcTime"].as_i64().unwrap() > 1_600_000_000_000);
    }

    assert_eq!(server.complete(&id).status, 200);
    let chat = server.chat(&id);
    assert_eq!(chat["state"], "Idle");
    assert_eq!(chat["capabilities"], serde_json::json!([]));
    server.send_message(&id, "Still there?").assert_error(400, 2);
    server.complete(&id).assert_error(400, 2);

    // One log line per request, naming the operation and the chat.
    let log = server.log_text();
    assert!(
        log.lines().any(|l| l.contains("SendMessage") && l.contains(&id) && l.contains("200")),
        "no log line for SendMessage in:\n{log}"
    );
}
