//! Agent scenarios: every shipped scenario produces its documented transcript; waitFor with and
//! without a match, with its timeout going on or closing the chat; substitutions; switching a
//! running chat; run-time scenarios and every validation error; a bad file at start; a scenario
//! in progress surviving kill -9. Time is moved with the frozen clock: no test waits for it.

use crate::helpers::{run_emulator, Server, TempDir};
use serde_json::{json, Value};

const START_MS: i64 = 1_767_225_600_000;

fn frozen() -> Server {
    Server::builder()
        .arg("--clock", "frozen")
        .arg("--clock-start", "2026-01-01T00:00:00Z")
        .arg("--agent-join-delay", "1s..4s")
        .arg("--reply-delay", "0s..2s")
        .start()
}

/// RequestChat with `userData.scenario`.
fn chat_with(server: &Server, scenario: &str, nickname: &str) -> String {
    let res = server.post(
        "/api/v2/chats",
        &json!({"operationName": "RequestChat", "nickname": nickname, "subject": "my order",
                "userData": {"scenario": scenario}}),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_string()
}

fn advance(server: &Server, by: &str) {
    let res = server.post("/__admin/clock", &json!({"advance": by}));
    assert_eq!(res.status, 200, "{}", res.text());
}

/// The transcript after the two joins of RequestChat, as `Type:FromType[:text or url]`.
fn story(server: &Server, id: &str) -> Vec<String> {
    server.all_messages(id)[2..]
        .iter()
        .map(|m| {
            let mut line =
                format!("{}:{}", m["type"].as_str().unwrap(), m["from"]["type"].as_str().unwrap());
            if let Some(t) = m["text"].as_str().or(m["url"].as_str()) {
                line.push(':');
                line.push_str(t);
            }
            line
        })
        .collect()
}

fn at(server: &Server, id: &str) -> Vec<i64> {
    server.all_messages(id)[2..].iter().map(|m| m["utcTime"].as_i64().unwrap() - START_MS).collect()
}

#[test]
fn the_bot_scenario_is_the_bot_of_before() {
    let server = frozen();
    let id = chat_with(&server, "bot", "Ada");
    assert_eq!(server.admin_chat(&id)["scenario"], "bot");
    advance(&server, "5s");
    assert_eq!(story(&server, &id), ["ParticipantJoined:Agent"]);
    server.send_message(&id, "Are you there?");
    advance(&server, "2s");
    assert_eq!(
        story(&server, &id)[1..],
        [
            "Text:Customer:Are you there?",
            "TypingStarted:Agent",
            "Text:Agent:Good question...",
            "TypingStopped:Agent"
        ]
    );
    // The default scenario is bot.
    let plain = server.request_chat("Bob");
    assert_eq!(server.admin_chat(&plain)["scenario"], "bot");
}

#[test]
fn manual_and_never_joins_leave_the_chat_waiting() {
    let server = Server::builder()
        .arg("--clock", "frozen")
        .arg("--idle-timeout", "0")
        .arg("--system-message-interval", "0")
        .start();
    for name in ["manual", "never-joins"] {
        let id = chat_with(&server, name, "Ada");
        server.send_message(&id, "Hello?");
        advance(&server, "1h");
        assert_eq!(story(&server, &id), ["Text:Customer:Hello?"], "{name}");
        assert_eq!(server.state(&id), "WaitingForAgent");
    }
    // --agent-mode manual means --scenario manual.
    let server = Server::builder().arg("--agent-mode", "manual").arg("--clock", "frozen").start();
    let id = server.request_chat("Ada");
    assert_eq!(server.admin_chat(&id)["scenario"], "manual");
}

#[test]
fn joins_then_leaves() {
    let server = frozen();
    let id = chat_with(&server, "joins-then-leaves", "Ada");
    advance(&server, "10s");
    assert_eq!(
        story(&server, &id),
        [
            "ParticipantJoined:Agent",
            "Text:Agent:Hi Ada, I'm Kate. I have to step away, sorry.",
            "ParticipantLeft:Agent"
        ]
    );
    assert_eq!(at(&server, &id), [2000, 3000, 6000], "each step at its time");
    assert_eq!(server.state(&id), "WaitingForAgent");
}

#[test]
fn slow_typist() {
    let server = frozen();
    let id = chat_with(&server, "slow-typist", "Ada");
    advance(&server, "5s");
    assert_eq!(story(&server, &id), ["ParticipantJoined:Agent", "TypingStarted:Agent"]);
    advance(&server, "5s");
    assert_eq!(
        story(&server, &id)[2..],
        ["TypingStopped:Agent", "Text:Agent:Hello Ada! Sorry, I type slowly."]
    );
    assert_eq!(at(&server, &id)[2], 9000);
    server.send_message(&id, "Where is my order?");
    assert_eq!(story(&server, &id).last().unwrap(), "TypingStarted:Agent", "typing starts at once");
    advance(&server, "10s");
    server.send_message(&id, "Thanks.");
    advance(&server, "10s");
    assert_eq!(
        story(&server, &id)[4..],
        [
            "Text:Customer:Where is my order?",
            "TypingStarted:Agent",
            "TypingStopped:Agent",
            "Text:Agent:You wrote \"Where is my order?\". Let me think about it.",
            "Text:Customer:Thanks.",
            "TypingStarted:Agent",
            "TypingStopped:Agent"
        ]
    );
    // Then the bot answers.
    server.send_message(&id, "Hello!");
    advance(&server, "2s");
    assert_eq!(story(&server, &id).iter().filter(|l| l.as_str() == "Text:Agent:Neat.").count(), 1);
}

#[test]
fn pushes_a_link() {
    let server = frozen();
    let id = chat_with(&server, "pushes-a-link", "Ada");
    advance(&server, "1s");
    assert_eq!(
        story(&server, &id),
        [
            "ParticipantJoined:Agent",
            "Text:Agent:Hello Ada, this page should help:",
            "PushUrl:Agent:https://example.com/help",
            "Notice:Agent:Kate shared a link"
        ]
    );
    server.send_message(&id, "Thanks!");
    advance(&server, "2s");
    assert!(story(&server, &id).contains(&"Text:Agent:Neat.".to_string()), "then the bot");
}

#[test]
fn agent_completes_after_an_answer_or_after_a_minute() {
    let server = frozen();
    let id = chat_with(&server, "agent-completes", "Ada");
    advance(&server, "1s");
    server.send_message(&id, "I need a refund");
    advance(&server, "3s");
    assert_eq!(
        story(&server, &id),
        [
            "ParticipantJoined:Agent",
            "Text:Agent:Hello Ada, what can I do for you?",
            "Text:Customer:I need a refund",
            "Text:Agent:Done. Thank you for chatting with us!",
            "ParticipantLeft:Agent",
            "ParticipantLeft:External",
            "ParticipantLeft:Customer"
        ]
    );
    assert_eq!(server.state(&id), "Idle");
    // Without an answer, the chat is closed after the waitFor's minute.
    let quiet = chat_with(&server, "agent-completes", "Bob");
    advance(&server, "59s");
    assert_eq!(server.state(&quiet), "Chatting");
    advance(&server, "2s");
    assert_eq!(server.state(&quiet), "Idle");
    assert_eq!(story(&server, &quiet).len(), 5, "{:?}", story(&server, &quiet));
}

#[test]
fn greets_then_bot() {
    let server = frozen();
    let id = chat_with(&server, "greets-then-bot", "Ada");
    advance(&server, "1s");
    assert_eq!(
        story(&server, &id),
        ["ParticipantJoined:Agent", "Text:Agent:Hello Ada, I'm Kate. How can I help?"]
    );
    server.send_message(&id, "hello");
    advance(&server, "2s");
    assert!(story(&server, &id).contains(&"Text:Agent:hello to you too!".to_string()));
}

fn put(server: &Server, name: &str, doc: Value) -> crate::helpers::Response {
    server.request(
        "PUT",
        &format!("/__admin/scenarios/{name}"),
        &[("Content-Type", "application/json")],
        doc.to_string().as_bytes(),
    )
}

#[test]
fn wait_for_with_and_without_a_match_and_its_timeouts() {
    let server = frozen();
    let res = put(
        &server,
        "order-desk",
        json!({"description": "waits for an order number", "steps": [
            {"join": "Omar"},
            {"say": "Your order number, ${customer.nickname}?"},
            {"waitFor": "customerMessage", "match": "(?i)order\\s*#?\\d+", "timeout": "30s"},
            {"say": "Found ${lastMessage.text} about ${chat.subject}"},
            {"waitFor": "customerMessage"},
            {"say": "Anything else?"},
            {"waitFor": "customerMessage", "timeout": "10s", "onTimeout": "complete"},
            {"say": "never said"}
        ]}),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let id = chat_with(&server, "order-desk", "Ada");
    assert_eq!(
        story(&server, &id),
        ["ParticipantJoined:Agent", "Text:Agent:Your order number, Ada?"]
    );
    server.send_message(&id, "hello");
    assert_eq!(story(&server, &id).len(), 3, "no match: still waiting");
    server.send_message(&id, "It is ORDER #42");
    assert_eq!(
        story(&server, &id).last().unwrap(),
        "Text:Agent:Found It is ORDER #42 about my order"
    );
    server.send_message(&id, "no");
    assert_eq!(
        story(&server, &id).last().unwrap(),
        "Text:Agent:Anything else?",
        "a waitFor without match takes any text"
    );
    advance(&server, "11s");
    assert_eq!(server.state(&id), "Idle", "onTimeout complete closes the chat");
    assert!(!story(&server, &id).iter().any(|l| l.contains("never said")));

    // A timeout without onTimeout goes on with the next step.
    let other = chat_with(&server, "order-desk", "Bob");
    advance(&server, "31s");
    assert_eq!(
        story(&server, &other).last().unwrap(),
        "Text:Agent:Found  about my order",
        "no customer text yet"
    );
}

#[test]
fn a_running_chat_switches_scenario() {
    let server = frozen();
    let id = chat_with(&server, "manual", "Ada");
    let res =
        server.post(&format!("/__admin/chats/{id}/scenario"), &json!({"name": "greets-then-bot"}));
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(server.admin_chat(&id)["scenario"], "greets-then-bot");
    advance(&server, "1s");
    assert_eq!(
        story(&server, &id),
        ["ParticipantJoined:Agent", "Text:Agent:Hello Ada, I'm Kate. How can I help?"]
    );
    // Switching away from the bot stops it: the agent who is there stays, the bot's work goes.
    server.send_message(&id, "Is the bot there?");
    let res = server.post(&format!("/__admin/chats/{id}/scenario"), &json!({"name": "manual"}));
    assert_eq!(res.status, 200);
    advance(&server, "5s");
    assert_eq!(
        story(&server, &id).last().unwrap(),
        "Text:Customer:Is the bot there?",
        "no bot reply after the switch"
    );
    // Refusals.
    server
        .post(&format!("/__admin/chats/{id}/scenario"), &json!({"name": "nope"}))
        .assert_error(400, 2);
    server.post(&format!("/__admin/chats/{id}/scenario"), &json!({})).assert_error(400, 1);
    server.post(&format!("/__admin/chats/{id}/scenario"), &json!({"name": 3})).assert_error(400, 2);
    let unknown = "00000000-0000-4000-8000-000000000000";
    server
        .post(&format!("/__admin/chats/{unknown}/scenario"), &json!({"name": "bot"}))
        .assert_error(404, 6);
    server.complete(&id);
    server
        .post(&format!("/__admin/chats/{id}/scenario"), &json!({"name": "bot"}))
        .assert_error(400, 2);
}

#[test]
fn run_time_scenarios_are_added_shown_listed_and_deleted_and_survive_a_restart() {
    let mut server = frozen();
    let list = server.get("/__admin/scenarios").json();
    let names: Vec<&str> =
        list["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    for shipped in [
        "agent-completes",
        "bot",
        "greets-then-bot",
        "joins-then-leaves",
        "manual",
        "never-joins",
        "pushes-a-link",
        "slow-typist",
    ] {
        assert!(names.contains(&shipped), "{shipped} in {names:?}");
    }
    assert_eq!(list["default"], "bot");
    let bot = server.get("/__admin/scenarios/bot").json();
    assert_eq!(bot["scenario"]["steps"], json!([{"then": "bot"}]));
    assert_eq!(bot["source"], "file");

    let doc = json!({"name": "hello", "description": "says hello", "steps": [{"join": "Hal"}, {"say": "Hello"}]});
    let res = put(&server, "hello", doc.clone());
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["replaced"], false);
    assert_eq!(put(&server, "hello", doc.clone()).json()["replaced"], true);
    let shown = server.get("/__admin/scenarios/hello").json();
    assert_eq!(
        (shown["scenario"]["description"].clone(), shown["source"].clone()),
        (json!("says hello"), json!("runtime"))
    );
    server.restart();
    assert_eq!(server.get("/__admin/scenarios/hello").status, 200, "kept in SQLite");
    let id = chat_with(&server, "hello", "Ada");
    assert_eq!(story(&server, &id), ["ParticipantJoined:Agent", "Text:Agent:Hello"]);
    let res = server.delete("/__admin/scenarios/hello");
    assert_eq!(res.status, 200, "{}", res.text());
    server.get("/__admin/scenarios/hello").assert_error(404, 6);
    server.delete("/__admin/scenarios/hello").assert_error(404, 6);
    server.delete("/__admin/scenarios/bot").assert_error(400, 2);
    // A run-time bot shadows the shipped one until deleted.
    assert_eq!(put(&server, "bot", json!({"steps": []})).status, 200);
    assert_eq!(server.get("/__admin/scenarios/bot").json()["source"], "runtime");
    assert_eq!(server.delete("/__admin/scenarios/bot").status, 200);
    assert_eq!(server.get("/__admin/scenarios/bot").json()["source"], "file");
}

#[test]
fn every_invalid_scenario_is_refused_with_the_reason() {
    let server = frozen();
    let cases = [
        (json!({"steps": [{"say": "hi"}, {"typing": "soon"}]}), "step 2"),
        (
            json!({"steps": [{"waitFor": "customerMessage", "match": "(unclosed"}]}),
            "regular expression",
        ),
        (json!({"steps": [{"pushUrl": "ftp://x"}]}), "http"),
        (json!({"steps": [{"say": "Hi ${customer.name}"}]}), "unknown substitution"),
        (json!({"steps": [{"join": "A", "say": "B"}]}), "2 actions"),
        (json!({"steps": [{"dance": true}]}), "no action"),
        (json!({"name": "other", "steps": []}), "not \"x\""),
        (json!({"steps": "none"}), "array"),
        (json!({"description": "no steps"}), "\"steps\" is required"),
        (json!({"steps": [{"after": -5, "say": "x"}]}), "after"),
    ];
    for (doc, want) in cases {
        let res = put(&server, "x", doc.clone());
        res.assert_error(400, 2);
        let message = res.json()["statusMessage"].as_str().unwrap().to_string();
        assert!(message.contains(want), "{doc}: {message:?} should say {want:?}");
    }
    put(&server, "Bad%20Name", json!({"steps": []})).assert_error(400, 2);
    server.request("PUT", "/__admin/scenarios/x", &[], b"[1]").assert_error(400, 1);
    server.get("/__admin/scenarios/x").assert_error(404, 6);
    // RequestChat with an unknown scenario names the known ones; a wrong type is refused.
    let res = server.post(
        "/api/v2/chats",
        &json!({"operationName": "RequestChat", "nickname": "Ada", "userData": {"scenario": "x"}}),
    );
    res.assert_error(400, 2);
    assert!(res.json()["statusMessage"].as_str().unwrap().contains("never-joins"));
    server
        .post("/api/v2/chats", &json!({"operationName": "RequestChat", "nickname": "Ada", "userData": {"scenario": 5}}))
        .assert_error(400, 2);
    assert!(
        server.get("/__admin/chats").json()["chats"].as_array().unwrap().is_empty(),
        "no chat was created"
    );
}

#[test]
fn a_bad_scenario_file_or_name_stops_the_start_naming_it() {
    let dir = TempDir::new();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    std::fs::write(scenarios.join("good.json"), r#"{"steps": [{"join": "A"}]}"#).unwrap();
    std::fs::write(scenarios.join("broken.json"), r#"{"steps": [{"join": "A"}, {"say": ""}]}"#)
        .unwrap();
    let out = run_emulator(
        &["--scenarios-dir", scenarios.to_str().unwrap(), "--port", "0"],
        &[],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("broken.json") && err.contains("step 2"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    std::fs::remove_file(scenarios.join("broken.json")).unwrap();
    let out = run_emulator(
        &["--scenarios-dir", scenarios.to_str().unwrap(), "--scenario", "nope", "--port", "0"],
        &[],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("nope") && err.contains("good"), "{err}");
    assert!(!dir.path().join("chat.db").exists(), "nothing was created");
    let missing = dir.path().join("missing");
    let out = run_emulator(
        &["--scenarios-dir", missing.to_str().unwrap(), "--port", "0"],
        &[],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
}

#[test]
fn a_scenario_in_progress_survives_kill_9_and_finishes_exactly_once() {
    let mut server = frozen();
    let id = chat_with(&server, "joins-then-leaves", "Ada");
    advance(&server, "2s");
    assert_eq!(story(&server, &id), ["ParticipantJoined:Agent"]);
    server.kill();
    server.start_again();
    advance(&server, "1s");
    server.kill();
    server.start_again();
    advance(&server, "10s");
    assert_eq!(
        story(&server, &id),
        [
            "ParticipantJoined:Agent",
            "Text:Agent:Hi Ada, I'm Kate. I have to step away, sorry.",
            "ParticipantLeft:Agent"
        ]
    );
    server.restart();
    advance(&server, "1m");
    assert_eq!(story(&server, &id).len(), 3, "nothing ran twice");
}
