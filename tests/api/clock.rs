//! The emulator's clock: frozen, advanced for every chat or for one, with the work that fell due
//! run in due order before the answer; its state surviving restarts; runs that repeat byte for
//! byte with a seed and a frozen clock.

use std::time::Duration;

use crate::helpers::{messages, texts, Server};
use serde_json::{json, Value};

const START: &str = "2026-01-01T00:00:00Z";
const START_MS: i64 = 1_767_225_600_000;

/// A bot emulator on a frozen clock at `START`, with the default timings of a real contact
/// centre (the test moves time instead of waiting).
fn frozen() -> Server {
    Server::builder()
        .arg("--clock", "frozen")
        .arg("--clock-start", START)
        .arg("--agent-join-delay", "1s..4s")
        .arg("--reply-delay", "0s..2s")
        .arg("--system-message-interval", "20s")
        .arg("--idle-timeout", "30m")
        .start()
}

fn clock(server: &Server) -> Value {
    let res = server.get("/__admin/clock");
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

fn set_clock(server: &Server, body: Value) -> Value {
    let res = server.post("/__admin/clock", &body);
    assert_eq!(res.status, 200, "POST /__admin/clock {body}: {}", res.text());
    let answer = res.json();
    assert_eq!(answer["statusCode"], 0);
    answer
}

fn advance(server: &Server, by: &str) -> Value {
    set_clock(server, json!({ "advance": by }))
}

fn advance_chat(server: &Server, id: &str, by: &str) -> Value {
    let res = server.post(&format!("/__admin/chats/{id}/clock"), &json!({ "advance": by }));
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

fn utc_times(all: &[Value]) -> Vec<i64> {
    all.iter().map(|m| m["utcTime"].as_i64().unwrap()).collect()
}

fn assert_non_decreasing(all: &[Value]) {
    let times = utc_times(all);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "utcTime went backwards: {times:?}");
}

fn kinds(all: &[Value]) -> Vec<String> {
    all.iter()
        .map(|m| format!("{}:{}", m["type"].as_str().unwrap(), m["from"]["type"].as_str().unwrap()))
        .collect()
}

#[test]
fn the_clock_answers_now_frozen_and_offset() {
    let server = frozen();
    let c = clock(&server);
    assert_eq!(c["now"], START_MS);
    assert_eq!(c["frozen"], true);
    assert_eq!(c["statusCode"], 0);
    let offset = c["offsetMs"].as_i64().unwrap();
    assert!(
        (START_MS - common_now() - offset).abs() < 60_000,
        "offsetMs is now minus the wall clock: {c}"
    );
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(clock(&server)["now"], START_MS, "frozen time stands still");
}

fn common_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn freezing_and_unfreezing_never_moves_time_backwards_or_forwards() {
    let server = Server::start();
    let before = clock(&server)["now"].as_i64().unwrap();
    let frozen = set_clock(&server, json!({"freeze": true}));
    assert_eq!(frozen["frozen"], true);
    assert_eq!(frozen["ran"], 0);
    let at = frozen["now"].as_i64().unwrap();
    assert!(at >= before);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(clock(&server)["now"], at);
    let running = set_clock(&server, json!({"freeze": false}));
    assert_eq!(running["frozen"], false);
    let resumed = running["now"].as_i64().unwrap();
    assert!(
        (at..at + 1000).contains(&resumed),
        "resumes from the frozen instant: {at} -> {resumed}"
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(clock(&server)["now"].as_i64().unwrap() > resumed, "and runs again");
}

#[test]
fn advance_runs_the_due_work_in_order_before_it_answers() {
    let server = frozen();
    let id = server.request_chat("Ada");
    assert_eq!(server.state(&id), "WaitingForAgent");

    // The agent joins 1-4 s after the request: after 5 s it is there, at once.
    let answer = advance(&server, "5s");
    assert_eq!(answer["now"], START_MS + 5000);
    assert_eq!(answer["frozen"], true);
    assert_eq!(answer["ran"], 1, "the agent's join: {answer}");
    assert_eq!(server.state(&id), "Chatting");
    let joined = server.all_messages(&id)[2].clone();
    assert_eq!(joined["type"], "ParticipantJoined");
    let at = joined["utcTime"].as_i64().unwrap();
    assert!(
        (START_MS + 1000..=START_MS + 4000).contains(&at),
        "joined at its due time, not at the end: {at}"
    );

    // A question is answered within 2 s, typing first.
    assert_eq!(server.send_message(&id, "Is it raining?").status, 200);
    let answer = advance(&server, "2s");
    assert_eq!(answer["ran"], 2, "typing and the reply: {answer}");
    let all = server.all_messages(&id);
    assert_eq!(
        kinds(&all[3..]),
        ["Text:Customer", "TypingStarted:Agent", "Text:Agent", "TypingStopped:Agent"]
    );
    assert_eq!(all[5]["text"], "Good question...");
    assert_non_decreasing(&all);

    // 30 minutes later the abandoned chat is closed; the system participant spoke on the way,
    // once for the advance (missed ticks are not back-filled).
    advance(&server, "30m");
    assert_eq!(server.state(&id), "Idle");
    let all = server.all_messages(&id);
    let system = texts(&all, "Text").into_iter().filter(|t| !t.contains("closed")).count();
    assert!(system <= 3, "{system} system texts in one advance: {all:?}");
    let closing = all
        .iter()
        .find(|m| m["text"].as_str().is_some_and(|t| t.contains("closed after 30 minutes")))
        .expect("the closing text");
    // The customer last wrote at +5 s: the chat closed 30 minutes after that, not at the end.
    assert_eq!(
        closing["utcTime"],
        START_MS + 5000 + 30 * 60_000,
        "closed at its due time: {closing}"
    );
    assert_non_decreasing(&all);
}

#[test]
fn advancing_one_chat_leaves_the_others_alone() {
    let server = frozen();
    let a = server.request_chat("Ada");
    let b = server.request_chat("Bob");
    let answer = advance_chat(&server, &a, "5s");
    assert_eq!(answer["now"], START_MS + 5000, "the chat's own time: {answer}");
    assert_eq!(server.admin_chat(&a)["clockOffsetMs"], 5000);
    assert_eq!(server.admin_chat(&b)["clockOffsetMs"], 0);
    assert_eq!(answer["ran"], 1);
    assert_eq!(server.state(&a), "Chatting");
    assert_eq!(server.state(&b), "WaitingForAgent", "the other chat did not move");
    assert_eq!(clock(&server)["now"], START_MS, "nor did the emulator's clock");
    // The chat's later messages carry its own time.
    assert_eq!(server.send_message(&a, "Hello").status, 200);
    let all = server.all_messages(&a);
    assert_eq!(all.last().unwrap()["utcTime"], START_MS + 5000);
    assert_non_decreasing(&all);
    // A global advance moves every chat: b's agent joins, a stays 5 s ahead.
    advance(&server, "5s");
    assert_eq!(server.state(&b), "Chatting");
    assert_eq!(server.send_message(&a, "Still there?").status, 200);
    assert_eq!(server.all_messages(&a).last().unwrap()["utcTime"], START_MS + 10_000);
    // The reply owed to a falls due at its chat time.
    let answer = advance_chat(&server, &a, "2s");
    assert_eq!(answer["ran"], 2, "typing and the reply: {answer}");
    let replies: Vec<String> = server
        .all_messages(&a)
        .iter()
        .filter(|m| m["type"] == "Text" && m["from"]["type"] == "Agent")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(replies, ["Hello to you too!", "Good question..."]);
}

#[test]
fn bad_clock_requests_are_refused_and_change_nothing() {
    let server = frozen();
    let id = server.request_chat("Ada");
    for body in [
        json!({"advance": "-5s"}),
        json!({"advance": -1}),
        json!({"advance": "soon"}),
        json!({"advance": "5 parsecs"}),
        json!({"advance": 1.5}),
        json!({"advance": true}),
        json!({"advance": "366d"}),
        json!({"advance": 31_622_400_001i64}),
        json!({"freeze": "yes"}),
        json!({"freeze": true, "advance": "x"}),
    ] {
        let res = server.post("/__admin/clock", &body);
        res.assert_error(400, 2);
        let res = server.post(&format!("/__admin/chats/{id}/clock"), &body);
        if body.get("advance").is_some() {
            res.assert_error(400, 2);
        }
    }
    server.post("/__admin/clock", &json!({})).assert_error(400, 1);
    server
        .post(&format!("/__admin/chats/{id}/clock"), &json!({"freeze": true}))
        .assert_error(400, 1);
    server.post("/__admin/clock", &json!([1])).assert_error(400, 1);
    let unknown = "00000000-0000-4000-8000-000000000000";
    server
        .post(&format!("/__admin/chats/{unknown}/clock"), &json!({"advance": "1s"}))
        .assert_error(404, 6);
    server.post("/__admin/chats/nope/clock", &json!({"advance": "1s"})).assert_error(404, 6);
    server.request("PUT", "/__admin/clock", &[], b"{}").assert_error(405, 2);
    assert_eq!(clock(&server)["now"], START_MS, "nothing moved");
    assert_eq!(clock(&server)["frozen"], true);
    assert_eq!(server.state(&id), "WaitingForAgent");
    // The longest advance allowed is a year.
    assert_eq!(advance(&server, "365d")["now"], START_MS + 365 * 86_400_000);
}

/// The same requests against a new emulator with a seed and a frozen clock.
fn seeded_run() -> (String, Vec<u8>, Vec<u8>) {
    let server = Server::builder()
        .arg("--seed", "42")
        .arg("--clock", "frozen")
        .arg("--clock-start", START)
        .arg("--agent-join-delay", "1s..4s")
        .arg("--reply-delay", "0s..2s")
        .arg("--system-message-interval", "20s")
        .arg("--idle-timeout", "30m")
        .start();
    let id = server.request_chat("Ada");
    advance(&server, "5s");
    server.send_message(&id, "Are you there?");
    server.send_message(&id, "Wow!");
    advance(&server, "3s");
    server.send_message(&id, "Thanks.");
    advance(&server, "1m");
    advance(&server, "30m");
    let transcript = server.get(&format!("/api/v2/chats/{id}/messages?index=0")).body;
    let detail = server.get(&format!("/__admin/chats/{id}")).body;
    (id, transcript, detail)
}

#[test]
fn a_seed_and_a_frozen_clock_repeat_a_run_byte_for_byte() {
    let (id_a, transcript_a, detail_a) = seeded_run();
    let (id_b, transcript_b, detail_b) = seeded_run();
    assert_eq!(id_a, id_b, "the same chat id");
    assert_eq!(String::from_utf8_lossy(&transcript_a), String::from_utf8_lossy(&transcript_b));
    assert_eq!(String::from_utf8_lossy(&detail_a), String::from_utf8_lossy(&detail_b));
    let all: Value = serde_json::from_slice(&transcript_a).unwrap();
    assert!(all["messages"].as_array().unwrap().len() > 10, "a real conversation: {all}");
}

#[test]
fn the_clock_and_chat_offsets_survive_a_restart_and_a_kill() {
    let mut server = Server::builder()
        .arg("--clock", "frozen")
        .arg("--clock-start", START)
        .arg("--idle-timeout", "0")
        .start();
    let id = server.request_chat("Ada");
    advance(&server, "1h");
    advance_chat(&server, &id, "10m");
    let before = clock(&server);
    assert_eq!(before["now"], START_MS + 3_600_000);

    server.restart();
    let after = clock(&server);
    assert_eq!(
        (after["now"].clone(), after["frozen"].clone()),
        (before["now"].clone(), json!(true))
    );

    server.kill();
    server.start_again();
    assert_eq!(clock(&server)["now"], START_MS + 3_600_000, "after kill -9 too");
    // The chat is still 10 minutes ahead.
    server.send_message(&id, "Back again");
    let last = server.all_messages(&id).last().unwrap().clone();
    assert_eq!(last["utcTime"], START_MS + 3_600_000 + 600_000, "{last}");

    // A seeded generator draws the same ids after a restart: they are skipped, not refused.
    let mut seeded = Server::builder().arg("--seed", "3").arg("--agent-mode", "manual").start();
    let first = seeded.request_chat("Ada");
    seeded.restart();
    let second = seeded.request_chat("Bob");
    assert_ne!(first, second);

    // Unfrozen state survives too, and --clock given at start wins over the stored state.
    set_clock(&server, json!({"freeze": false}));
    server.restart();
    assert_eq!(clock(&server)["frozen"], true, "--clock frozen at start freezes again");
}

#[test]
fn utc_time_never_goes_backwards_within_a_chat() {
    let server = frozen();
    let id = server.request_chat("Ada");
    for step in 0..6 {
        server.send_message(&id, &format!("message {step}?"));
        match step % 3 {
            0 => advance(&server, "700ms"),
            1 => advance_chat(&server, &id, "1500ms"),
            _ => set_clock(&server, json!({"freeze": step % 2 == 0})),
        };
        server.op(&id, json!({"operationName": "SendStartTypingNotification"}));
    }
    set_clock(&server, json!({"freeze": false}));
    server.send_message(&id, "done.");
    std::thread::sleep(Duration::from_millis(50));
    advance(&server, "10s");
    let all = server.all_messages(&id);
    assert!(all.len() > 20, "{all:?}");
    assert_non_decreasing(&all);
    let polled = messages(&server.get(&format!("/api/v2/chats/{id}/messages?index=0")));
    assert_eq!(utc_times(&polled), utc_times(&all));
}
