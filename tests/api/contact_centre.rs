//! The simulated contact centre (docs/api.md sections 2, 3, 5 and 6): the bot agent's join and replies,
//! typing, system messages, inactivity, the state machine driven through the admin API, its
//! refusals, the admin views, and seeded runs. Every wait has a deadline and watches something
//! observable (the transcript, the state, or the chat's `pendingWork` in the admin detail).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::helpers::{indexes, messages, texts, Response, Server};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);
const OPEN_CAPABILITIES: [&str; 4] =
    ["SendMessage", "SendStartTypingNotification", "SendStopTypingNotification", "Complete"];

// ---- helpers ----

/// Asserts the plain success answer `{"statusCode":0}`.
#[track_caller]
fn assert_ok(res: Response) {
    assert_eq!(res.status, 200, "expected success, got {}", res.text());
    assert_eq!(res.json(), json!({"statusCode": 0}));
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn from_type(m: &Value) -> &str {
    m["from"]["type"].as_str().unwrap_or_default()
}

fn is(m: &Value, kind: &str, participant_type: &str) -> bool {
    m["type"] == kind && from_type(m) == participant_type
}

/// The agent's `Text` messages, in order.
fn agent_texts(all: &[Value]) -> Vec<String> {
    let agent: Vec<Value> = all.iter().filter(|m| from_type(m) == "Agent").cloned().collect();
    texts(&agent, "Text")
}

/// The customer's `Text` messages, in order.
fn customer_texts(all: &[Value]) -> Vec<String> {
    let customer: Vec<Value> = all.iter().filter(|m| from_type(m) == "Customer").cloned().collect();
    texts(&customer, "Text")
}

/// The kinds of the chat's pending work, from the admin detail.
fn pending_kinds(chat: &Value) -> Vec<String> {
    chat["pendingWork"]
        .as_array()
        .expect("pendingWork array in the admin detail")
        .iter()
        .map(|w| w["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn transcript_of(chat: &Value) -> Vec<Value> {
    chat["messages"].as_array().expect("messages in the admin detail").clone()
}

/// Waits until the bot has no reply or typing work left for the chat (so nothing more of it can
/// arrive) and at least `replies` agent Texts are in the transcript; returns the transcript.
fn wait_for_bot_replies(server: &Server, id: &str, replies: usize) -> Vec<Value> {
    server.wait_for(&format!("{replies} bot replies and no reply work left"), WAIT, || {
        let chat = server.admin_chat(id);
        let busy = pending_kinds(&chat).iter().any(|k| k == "bot_reply" || k == "bot_typing");
        let all = transcript_of(&chat);
        (!busy && agent_texts(&all).len() >= replies).then_some(all)
    })
}

/// Waits until GetChat shows `Chatting`; returns the agent participant it lists.
fn wait_for_agent(server: &Server, id: &str) -> Value {
    server.wait_for("the agent to join", WAIT, || {
        let chat = server.chat(id);
        if chat["state"] != "Chatting" {
            return None;
        }
        chat["participants"].as_array().unwrap().iter().find(|p| p["type"] == "Agent").cloned()
    })
}

fn wait_for_state(server: &Server, id: &str, state: &str) -> Value {
    server.wait_for(&format!("state {state}"), WAIT, || {
        let chat = server.chat(id);
        (chat["state"] == state).then_some(chat)
    })
}

/// Watches the chat for `period` and fails as soon as its transcript grows past `len` messages.
fn assert_transcript_stays(server: &Server, id: &str, len: usize, period: Duration, why: &str) {
    let until = Instant::now() + period;
    loop {
        let all = server.all_messages(id);
        assert_eq!(all.len(), len, "{why}; the transcript grew to {all:#?}");
        if Instant::now() > until {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn participants(chat: &Value) -> Vec<Value> {
    chat["participants"].as_array().expect("participants").clone()
}

/// Performs an admin agent action that must succeed by appending exactly one message; returns it.
#[track_caller]
fn agent_appends_one(server: &Server, id: &str, body: Value) -> Value {
    let before = server.all_messages(id).len();
    assert_ok(server.agent(id, body.clone()));
    let all = server.all_messages(id);
    assert_eq!(all.len(), before + 1, "{body} appends one message: {all:#?}");
    all.last().unwrap().clone()
}

/// Asserts that a request is refused with `http`/`status_code` and changes neither the
/// transcript nor the state.
#[track_caller]
fn assert_refused(
    server: &Server,
    id: &str,
    what: &str,
    http: u16,
    status_code: i64,
    send: impl FnOnce() -> Response,
) {
    let before = server.admin_chat(id);
    let res = send();
    assert_eq!(res.status, http, "{what}: HTTP status of {:?}", res.text());
    res.assert_error(http, status_code);
    let after = server.admin_chat(id);
    assert_eq!(transcript_of(&after), transcript_of(&before), "{what} changed the transcript");
    assert_eq!(after["state"], before["state"], "{what} changed the state");
}

fn admin_list(server: &Server, query: &str) -> Vec<Value> {
    let res = server.get(&format!("/__admin/chats{query}"));
    assert_eq!(res.status, 200, "admin list {query}: {}", res.text());
    let body = res.json();
    assert_eq!(body["statusCode"], 0);
    body["chats"].as_array().expect("chats array").clone()
}

fn agent_poll(server: &Server, id: &str) -> Vec<Value> {
    messages(&server.get(&format!("/__admin/chats/{id}/messages")))
}

// ---- 1. the bot's replies ----

#[test]
fn the_bot_answers_every_customer_text_once_by_its_last_character_in_question_order() {
    let server = Server::start();
    let id = server.request_chat("James");
    let agent = wait_for_agent(&server, &id);

    let questions = ["Wow!", "Are you there?", "I see.", "Hello", "Really?  "];
    for q in questions {
        assert_ok(server.send_message(&id, q));
    }
    let all = wait_for_bot_replies(&server, &id, questions.len());

    assert_eq!(customer_texts(&all), questions, "customer texts are stored as sent");
    assert_eq!(
        agent_texts(&all),
        ["Neat.", "Good question...", "Ok.", "Hello to you too!", "Good question..."],
        "one reply per question, by the last character of the trimmed text, in question order"
    );

    let questions_at: Vec<&Value> = all.iter().filter(|m| is(m, "Text", "Customer")).collect();
    let replies: Vec<&Value> = all.iter().filter(|m| is(m, "Text", "Agent")).collect();
    assert_eq!(replies.len(), questions_at.len(), "exactly one reply per customer Text");
    for (q, r) in questions_at.iter().zip(&replies) {
        assert_eq!(r["from"], agent, "the reply comes from the agent in the chat: {r}");
        assert!(
            r["index"].as_i64() > q["index"].as_i64(),
            "reply {r} comes after its question {q}"
        );
    }
}

#[test]
fn messages_sent_while_waiting_for_an_agent_are_answered_after_the_agent_joins() {
    let server = Server::builder().arg("--agent-join-delay", "500ms").start();
    let id = server.request_chat("James");
    assert_ok(server.send_message(&id, "Anyone there?"));
    assert_ok(server.send_message(&id, "Hello"));
    assert_eq!(server.state(&id), "WaitingForAgent", "no agent yet (join delay 500 ms)");

    let all = wait_for_bot_replies(&server, &id, 2);
    let joined = all
        .iter()
        .find(|m| is(m, "ParticipantJoined", "Agent"))
        .unwrap_or_else(|| panic!("the agent joined: {all:#?}"));
    let join_index = joined["index"].as_i64().unwrap();
    let customer: Vec<Value> = all.iter().filter(|m| is(m, "Text", "Customer")).cloned().collect();
    let replies: Vec<Value> = all.iter().filter(|m| is(m, "Text", "Agent")).cloned().collect();
    assert!(
        indexes(&customer).iter().all(|&i| i < join_index),
        "precondition: both questions were sent before the agent joined: {all:#?}"
    );
    assert!(
        indexes(&replies).iter().all(|&i| i > join_index),
        "replies come only after the agent's ParticipantJoined (index {join_index}): {all:#?}"
    );
    assert_eq!(texts(&replies, "Text"), ["Good question...", "Hello to you too!"]);
    for r in &replies {
        assert_eq!(r["from"], joined["from"], "the reply comes from the agent who joined");
    }
}

// ---- 3. bot typing ----

#[test]
fn the_bot_shows_typing_before_each_reply_and_stops_after_it() {
    let server = Server::start();
    let id = server.request_chat("James");
    let agent = wait_for_agent(&server, &id);
    for q in ["One!", "Two?", "Three."] {
        assert_ok(server.send_message(&id, q));
    }
    let all = wait_for_bot_replies(&server, &id, 3);

    // The agent's typing notices and replies, in transcript order.
    let seq: Vec<&str> = all
        .iter()
        .filter(|m| m["from"] == agent && m["type"] != "ParticipantJoined")
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    let count = |kind: &str| seq.iter().filter(|t| **t == kind).count();
    assert_eq!(count("Text"), 3, "{seq:?}");
    assert_eq!(count("TypingStarted"), 3, "one TypingStarted per reply: {seq:?}");
    assert_eq!(count("TypingStopped"), 3, "one TypingStopped per reply: {seq:?}");
    let mut replies_seen = 0;
    for (pos, kind) in seq.iter().enumerate() {
        if *kind != "Text" {
            continue;
        }
        let before = &seq[..pos];
        let started = before.iter().filter(|t| **t == "TypingStarted").count();
        let stopped = before.iter().filter(|t| **t == "TypingStopped").count();
        assert!(started > replies_seen, "a TypingStarted precedes reply {replies_seen}: {seq:?}");
        assert_eq!(stopped, replies_seen, "each TypingStopped follows its reply: {seq:?}");
        replies_seen += 1;
    }
    assert_eq!(
        seq.last(),
        Some(&"TypingStopped"),
        "a TypingStopped follows the last reply: {seq:?}"
    );
    assert!(
        all.iter()
            .filter(|m| m["type"] == "TypingStarted" || m["type"] == "TypingStopped")
            .all(|m| m["from"] == agent),
        "typing notices come from the agent"
    );
}

#[test]
fn bot_typing_can_be_switched_off() {
    let server = Server::builder().arg("--bot-typing", "false").start();
    let id = server.request_chat("James");
    wait_for_agent(&server, &id);
    assert_ok(server.send_message(&id, "Hi!"));
    assert_ok(server.send_message(&id, "How are you?"));
    let all = wait_for_bot_replies(&server, &id, 2);
    assert_eq!(agent_texts(&all), ["Neat.", "Good question..."]);
    let typing: Vec<&Value> = all
        .iter()
        .filter(|m| m["type"] == "TypingStarted" || m["type"] == "TypingStopped")
        .collect();
    assert!(typing.is_empty(), "no typing notices with --bot-typing false: {typing:#?}");
}

// ---- 4. system messages ----

#[test]
fn the_system_participant_posts_texts_every_interval_until_the_chat_is_completed() {
    let server = Server::builder().arg("--system-message-interval", "150ms").start();
    let id = server.request_chat("James");

    let system = json!({"nickname": "system", "participantId": "2", "type": "External"});
    assert!(
        participants(&server.chat(&id)).contains(&system),
        "the system participant is in the chat"
    );
    let all = server.wait_for("three system messages", WAIT, || {
        let all = server.all_messages(&id);
        (all.iter().filter(|m| m["type"] == "Text" && m["from"] == system).count() >= 3)
            .then_some(all)
    });
    let posted: Vec<&Value> =
        all.iter().filter(|m| m["type"] == "Text" && m["from"] == system).collect();
    for m in &posted {
        assert!(
            !m["text"].as_str().unwrap_or_default().trim().is_empty(),
            "a system Text has text: {m}"
        );
    }
    for pair in posted.windows(2) {
        let gap = pair[1]["utcTime"].as_i64().unwrap() - pair[0]["utcTime"].as_i64().unwrap();
        assert!(
            gap >= 140,
            "system messages come every 150 ms, not in bursts: {gap} ms between {pair:#?}"
        );
    }

    assert_ok(server.complete(&id));
    let chat = server.admin_chat(&id);
    assert_eq!(chat["state"], "Idle");
    assert_eq!(pending_kinds(&chat), Vec::<String>::new(), "Complete cancels the system messages");
    let len = transcript_of(&chat).len();
    assert!(is(transcript_of(&chat).last().unwrap(), "ParticipantLeft", "Customer"));
    assert_transcript_stays(
        &server,
        &id,
        len,
        Duration::from_millis(450),
        "no system message after Complete",
    );
}

// ---- 5. inactivity ----

#[test]
fn an_untouched_chat_is_closed_after_the_idle_timeout() {
    let server = Server::builder().arg("--idle-timeout", "400ms").start();
    let id = server.request_chat("James");
    let chat = wait_for_state(&server, &id, "Idle");
    assert_eq!(chat["capabilities"], json!([]), "an Idle chat has no capabilities");

    let all = server.all_messages(&id);
    assert!(
        all.iter().any(|m| is(m, "ParticipantJoined", "Agent")),
        "precondition: the agent joined"
    );
    let agent_left = all.iter().find(|m| is(m, "ParticipantLeft", "Agent"));
    let customer_left = all.iter().find(|m| is(m, "ParticipantLeft", "Customer"));
    assert!(agent_left.is_some(), "the agent leaves when the chat times out: {all:#?}");
    let customer_left = customer_left.unwrap_or_else(|| panic!("the customer leaves: {all:#?}"));
    let opened = all[0]["utcTime"].as_i64().unwrap();
    let closed = customer_left["utcTime"].as_i64().unwrap();
    assert!(
        closed - opened >= 390,
        "closed after {} ms, before the 400 ms idle timeout",
        closed - opened
    );
    assert_eq!(
        pending_kinds(&server.admin_chat(&id)),
        Vec::<String>::new(),
        "a closed chat has no pending work"
    );
    server.send_message(&id, "Hello?").assert_error(400, 2);
}

#[test]
fn a_chat_whose_customer_keeps_talking_stays_open() {
    let server = Server::builder().arg("--idle-timeout", "800ms").start();
    let id = server.request_chat("James");
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_millis(1600) {
        n += 1;
        // Pacing the customer, not waiting for the emulator: one message every ~100 ms.
        assert_ok(server.send_message(&id, &format!("Still here {n}")));
        std::thread::sleep(Duration::from_millis(100));
        assert_ne!(
            server.state(&id),
            "Idle",
            "closed while the customer was active ({:?} in)",
            start.elapsed()
        );
    }
    let all = server.all_messages(&id);
    assert!(
        !all.iter().any(|m| m["type"] == "ParticipantLeft"),
        "nobody left while the customer was active: {all:#?}"
    );

    // Once the customer stops, the timeout counts from the last customer operation.
    wait_for_state(&server, &id, "Idle");
    let all = server.all_messages(&id);
    let last_text =
        all.iter().rfind(|m| is(m, "Text", "Customer")).unwrap()["utcTime"].as_i64().unwrap();
    let left =
        all.iter().find(|m| is(m, "ParticipantLeft", "Customer")).expect("the customer left");
    let quiet = left["utcTime"].as_i64().unwrap() - last_text;
    assert!(
        quiet >= 790,
        "closed {quiet} ms after the last customer message, before the idle timeout"
    );
}

// ---- 6. the state machine through the admin API ----

#[test]
fn in_manual_mode_no_agent_joins_or_replies_by_itself() {
    let server = Server::manual();
    let id = server.request_chat("James");
    assert_ok(server.send_message(&id, "Hello?"));
    let chat = server.admin_chat(&id);
    assert_eq!(chat["state"], "WaitingForAgent");
    let kinds = pending_kinds(&chat);
    assert!(
        !kinds.iter().any(|k| k == "agent_join" || k == "bot_reply" || k == "bot_typing"),
        "no bot work is scheduled in manual mode: {kinds:?}"
    );
    let len = transcript_of(&chat).len();
    // Well past the harness's 50–100 ms join delay and 20–60 ms reply delay.
    assert_transcript_stays(
        &server,
        &id,
        len,
        Duration::from_millis(400),
        "no agent joins or replies in manual mode",
    );
    assert_eq!(server.state(&id), "WaitingForAgent");
}

#[test]
fn an_admin_agent_joins_talks_leaves_rejoins_and_closes_the_chat() {
    let server = Server::manual();
    let id = server.request_chat("James");
    let customer = json!({"nickname": "James", "participantId": "1", "type": "Customer"});
    let ann = json!({"nickname": "Ann", "participantId": "3", "type": "Agent"});

    let m = agent_appends_one(&server, &id, json!({"action": "join", "nickname": "Ann"}));
    assert_eq!((&m["type"], &m["from"]), (&json!("ParticipantJoined"), &ann));
    let chat = server.chat(&id);
    assert_eq!(chat["state"], "Chatting");
    assert_eq!(chat["capabilities"], json!(OPEN_CAPABILITIES));
    assert!(participants(&chat).contains(&ann), "GetChat lists the agent: {chat}");

    let m =
        agent_appends_one(&server, &id, json!({"action": "message", "text": "How can I help?"}));
    assert_eq!(
        (&m["type"], &m["from"], &m["text"]),
        (&json!("Text"), &ann, &json!("How can I help?"))
    );
    let m = agent_appends_one(&server, &id, json!({"action": "typingStarted"}));
    assert_eq!((&m["type"], &m["from"]), (&json!("TypingStarted"), &ann));
    let m = agent_appends_one(&server, &id, json!({"action": "typingStopped"}));
    assert_eq!((&m["type"], &m["from"]), (&json!("TypingStopped"), &ann));
    let url = "https://example.com/help?topic=chat";
    let m = agent_appends_one(&server, &id, json!({"action": "pushUrl", "url": url}));
    assert_eq!((&m["type"], &m["from"], &m["url"]), (&json!("PushUrl"), &ann, &json!(url)));
    let m = agent_appends_one(
        &server,
        &id,
        json!({"action": "notice", "text": "Ann is checking your order"}),
    );
    assert_eq!(
        (&m["type"], &m["from"], &m["text"]),
        (&json!("Notice"), &ann, &json!("Ann is checking your order"))
    );
    assert_eq!(server.state(&id), "Chatting");

    let m = agent_appends_one(&server, &id, json!({"action": "leave"}));
    assert_eq!((&m["type"], &m["from"]), (&json!("ParticipantLeft"), &ann));
    let chat = server.chat(&id);
    assert_eq!(chat["state"], "WaitingForAgent");
    assert_eq!(chat["capabilities"], json!(OPEN_CAPABILITIES));
    assert!(
        !participants(&chat).iter().any(|p| p["type"] == "Agent"),
        "the agent who left is no longer listed by GetChat: {chat}"
    );
    let detail = server.admin_chat(&id);
    let ann_detail = participants(&detail)
        .into_iter()
        .find(|p| p["participantId"] == "3")
        .expect("Ann in the admin detail");
    assert!(ann_detail["left"].is_i64(), "the admin detail records when Ann left: {ann_detail}");

    let bob = json!({"nickname": "Bob", "participantId": "4", "type": "Agent"});
    let m = agent_appends_one(&server, &id, json!({"action": "join", "nickname": "Bob"}));
    assert_eq!(
        (&m["type"], &m["from"]),
        (&json!("ParticipantJoined"), &bob),
        "a new agent gets a new participantId"
    );
    assert_eq!(server.state(&id), "Chatting");

    let before = server.all_messages(&id).len();
    assert_ok(server.agent(&id, json!({"action": "complete"})));
    let all = server.all_messages(&id);
    // Whoever is still in the chat leaves, in reverse join order.
    let system = json!({"nickname": "system", "participantId": "2", "type": "External"});
    let left: Vec<(&Value, &Value)> =
        all[before..].iter().map(|m| (&m["type"], &m["from"])).collect();
    let leave = json!("ParticipantLeft");
    assert_eq!(
        left,
        [(&leave, &bob), (&leave, &system), (&leave, &customer)],
        "agent complete: the agent, the system participant, then the customer leave: {all:#?}"
    );
    let chat = server.chat(&id);
    assert_eq!(chat["state"], "Idle");
    assert_eq!(chat["capabilities"], json!([]));
    assert_eq!(pending_kinds(&server.admin_chat(&id)), Vec::<String>::new());
    assert_eq!(
        indexes(&all),
        (1..=all.len() as i64).collect::<Vec<_>>(),
        "indexes stay contiguous"
    );
}

#[test]
fn the_customer_completing_leaves_the_chat_idle() {
    let server = Server::manual();
    let id = server.request_chat("James");
    assert_ok(server.agent(&id, json!({"action": "join", "nickname": "Ann"})));
    let before = server.all_messages(&id).len();
    assert_ok(server.complete(&id));
    let all = server.all_messages(&id);
    assert_eq!(all.len(), before + 1, "Complete appends the customer's ParticipantLeft: {all:#?}");
    assert_eq!(all.last().unwrap()["type"], "ParticipantLeft");
    assert_eq!(
        all.last().unwrap()["from"],
        json!({"nickname": "James", "participantId": "1", "type": "Customer"})
    );
    let chat = server.chat(&id);
    assert_eq!(chat["state"], "Idle");
    assert_eq!(chat["capabilities"], json!([]));
}

#[test]
fn completing_a_chat_cancels_all_its_pending_work() {
    let server = Server::builder()
        .arg("--reply-delay", "1s")
        .arg("--system-message-interval", "700ms")
        .arg("--idle-timeout", "10m")
        .start();
    let id = server.request_chat("James");
    wait_for_agent(&server, &id);
    assert_ok(server.send_message(&id, "Are you there?"));
    assert_ok(server.send_message(&id, "Hello"));
    let chat = server.admin_chat(&id);
    let kinds = pending_kinds(&chat);
    for kind in ["bot_reply", "system_message", "idle_timeout"] {
        assert!(kinds.iter().any(|k| k == kind), "precondition: {kind} is pending: {kinds:?}");
    }
    let last_due = chat["pendingWork"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "bot_reply")
        .filter_map(|w| w["due"].as_i64())
        .max()
        .expect("the replies have a due time");

    assert_ok(server.complete(&id));
    let chat = server.admin_chat(&id);
    assert_eq!(chat["state"], "Idle");
    assert_eq!(pending_kinds(&chat), Vec::<String>::new(), "Complete cancels every pending job");
    // Watch past the moment the replies would have been due: nothing arrives.
    let len = transcript_of(&chat).len();
    let watch = Duration::from_millis((last_due - now_ms()).max(0) as u64 + 300);
    assert_transcript_stays(&server, &id, len, watch, "no reply after Complete");
    assert!(agent_texts(&server.all_messages(&id)).is_empty());
}

#[test]
fn in_bot_mode_the_bot_answers_as_an_admin_joined_agent() {
    let server = Server::builder().arg("--agent-join-delay", "1s").start();
    let id = server.request_chat("James");
    assert_ok(server.agent(&id, json!({"action": "join", "nickname": "Ann"})));
    let ann = json!({"nickname": "Ann", "participantId": "3", "type": "Agent"});
    assert_ok(server.send_message(&id, "Can you help?"));
    let all = wait_for_bot_replies(&server, &id, 1);
    let reply = all.iter().find(|m| is(m, "Text", "Agent")).unwrap();
    assert_eq!((&reply["text"], &reply["from"]), (&json!("Good question..."), &ann));

    // When the bot's own join falls due, the chat already has an agent: no second one joins.
    server.wait_for("the bot's join to fall due", WAIT, || {
        (!pending_kinds(&server.admin_chat(&id)).iter().any(|k| k == "agent_join")).then_some(())
    });
    let all = server.all_messages(&id);
    let joins: Vec<&Value> = all.iter().filter(|m| is(m, "ParticipantJoined", "Agent")).collect();
    assert_eq!(joins.len(), 1, "only Ann joined: {all:#?}");
    let agents: Vec<Value> =
        participants(&server.chat(&id)).into_iter().filter(|p| p["type"] == "Agent").collect();
    assert_eq!(agents, [ann]);
}

// ---- 7. refusals ----

#[test]
fn every_agent_action_on_an_ended_chat_is_refused() {
    let server = Server::manual();
    let id = server.request_chat("James");
    assert_ok(server.agent(&id, json!({"action": "join", "nickname": "Ann"})));
    assert_ok(server.complete(&id));
    assert_eq!(server.state(&id), "Idle");
    for body in [
        json!({"action": "join", "nickname": "Bob"}),
        json!({"action": "message", "text": "Hello?"}),
        json!({"action": "typingStarted"}),
        json!({"action": "typingStopped"}),
        json!({"action": "pushUrl", "url": "https://example.com/"}),
        json!({"action": "notice", "text": "Notice"}),
        json!({"action": "leave"}),
        json!({"action": "complete"}),
    ] {
        assert_refused(&server, &id, &body.to_string(), 400, 2, || server.agent(&id, body.clone()));
    }
}

#[test]
fn invalid_agent_requests_are_refused_and_change_nothing() {
    let server = Server::manual();
    let id = server.request_chat("James");
    let agent = |body: Value| server.agent(&id, body);

    assert_refused(&server, &id, "message before any agent joined", 400, 2, || {
        agent(json!({"action": "message", "text": "Hi"}))
    });
    assert_ok(agent(json!({"action": "join", "nickname": "Ann"})));
    assert_refused(&server, &id, "joining twice", 400, 2, || {
        agent(json!({"action": "join", "nickname": "Bob"}))
    });
    assert_refused(&server, &id, "unknown action", 400, 2, || agent(json!({"action": "dance"})));
    assert_refused(&server, &id, "action of the wrong JSON type", 400, 2, || {
        agent(json!({"action": 5}))
    });
    assert_refused(&server, &id, "missing action", 400, 1, || agent(json!({"text": "Hi"})));
    assert_refused(&server, &id, "body not JSON", 400, 1, || {
        server.request(
            "POST",
            &format!("/__admin/chats/{id}/agent"),
            &[("Content-Type", "application/json")],
            b"{nope",
        )
    });
    assert_refused(&server, &id, "message with blank text", 400, 1, || {
        agent(json!({"action": "message", "text": "   "}))
    });
    assert_refused(&server, &id, "message without text", 400, 1, || {
        agent(json!({"action": "message"}))
    });
    assert_refused(&server, &id, "pushUrl with a javascript: url", 400, 2, || {
        agent(json!({"action": "pushUrl", "url": "javascript:alert(1)"}))
    });
    assert_eq!(server.state(&id), "Chatting");
}

#[test]
fn admin_requests_for_an_unknown_chat_are_404() {
    let server = Server::start();
    for id in ["8d4b4a7e-2f3c-4e5a-9b6c-1d2e3f4a5b6c", "not-a-chat"] {
        server.agent(id, json!({"action": "join", "nickname": "Ann"})).assert_error(404, 6);
        server.get(&format!("/__admin/chats/{id}")).assert_error(404, 6);
        server.get(&format!("/__admin/chats/{id}/messages")).assert_error(404, 6);
    }
}

// ---- 8. the admin API ----

#[test]
fn health_reports_version_database_and_chats_by_state() {
    let server = Server::manual();
    let waiting = server.request_chat("Wendy");
    let chatting = server.request_chat("Chad");
    assert_ok(server.agent(&chatting, json!({"action": "join", "nickname": "Ann"})));
    let idle = server.request_chat("Ida");
    assert_ok(server.complete(&idle));
    assert_eq!(server.state(&waiting), "WaitingForAgent");

    let res = server.get("/__admin/health");
    assert_eq!(res.status, 200, "{}", res.text());
    let health = res.json();
    assert_eq!(health["statusCode"], 0);
    assert!(!health["status"].as_str().unwrap_or_default().is_empty(), "a status: {health}");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    let database = health["database"].as_str().expect("the database path");
    assert_eq!(
        Path::new(database).canonicalize().ok(),
        server.db().canonicalize().ok(),
        "health names the database file in use: {health}"
    );
    assert_eq!(health["chats"], json!({"WaitingForAgent": 1, "Chatting": 1, "Idle": 1}));
}

#[test]
fn the_admin_chat_list_shows_every_chat_and_filters_by_state() {
    let server = Server::manual();
    let open = server.request_chat("Olivia");
    let done = server.request_chat("Dan");
    assert_ok(server.send_message(&done, "Bye."));
    assert_ok(server.complete(&done));

    let all = admin_list(&server, "");
    assert_eq!(all.len(), 2, "{all:#?}");
    for (id, nickname, state) in [(&open, "Olivia", "WaitingForAgent"), (&done, "Dan", "Idle")] {
        let entry = all
            .iter()
            .find(|c| c["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} listed: {all:#?}"));
        assert_eq!(entry["nickname"], nickname);
        assert_eq!(entry["subject"], "testing");
        assert_eq!(entry["state"], state);
        assert!(entry["created"].as_i64().unwrap_or_default() > 1_600_000_000_000, "{entry}");
        assert_eq!(entry["messageCount"], server.all_messages(id).len() as i64, "{entry}");
    }

    let idle = admin_list(&server, "?state=Idle");
    assert_eq!(idle.iter().map(|c| c["id"].clone()).collect::<Vec<_>>(), [json!(done)]);
    let waiting = admin_list(&server, "?state=WaitingForAgent");
    assert_eq!(waiting.iter().map(|c| c["id"].clone()).collect::<Vec<_>>(), [json!(open)]);
    assert!(admin_list(&server, "?state=Chatting").is_empty());
    server.get("/__admin/chats?state=Bogus").assert_error(400, 2);
}

#[test]
fn the_agent_side_reads_the_transcript_with_its_own_cursor() {
    let server = Server::manual();
    let id = server.request_chat("James");
    assert_ok(server.agent(&id, json!({"action": "join", "nickname": "Ann"})));

    // The customer reads everything so far; the agent's cursor has not moved.
    let customer_first = server.poll(&id);
    assert_eq!(indexes(&customer_first), [1, 2, 3]);
    let agent_first = agent_poll(&server, &id);
    assert_eq!(agent_first, customer_first, "the agent sees every message too, independently");
    assert_eq!(server.poll(&id), Vec::<Value>::new());
    assert_eq!(agent_poll(&server, &id), Vec::<Value>::new());

    assert_ok(server.send_message(&id, "Hi Ann"));
    assert_ok(server.agent(&id, json!({"action": "message", "text": "Hi James"})));
    // The agent reads first this time; the customer still gets both new messages.
    let agent_new = agent_poll(&server, &id);
    assert_eq!(texts(&agent_new, "Text"), ["Hi Ann", "Hi James"]);
    let cursors = server.admin_chat(&id)["readCursors"].clone();
    assert_eq!(cursors, json!({"customer": 3, "agent": 5}), "each reader has its own cursor");
    let customer_new = server.poll(&id);
    assert_eq!(customer_new, agent_new);
    assert_eq!(agent_poll(&server, &id), Vec::<Value>::new(), "each message once");
    assert_eq!(server.poll(&id), Vec::<Value>::new(), "each message once");
    assert_eq!(server.admin_chat(&id)["readCursors"], json!({"customer": 5, "agent": 5}));
}

#[test]
fn deleting_all_chats_empties_the_emulator() {
    let server = Server::start();
    let a = server.request_chat("Anna");
    let b = server.request_chat("Ben");
    assert_ok(server.send_message(&b, "Hello"));
    assert_eq!(admin_list(&server, "").len(), 2);

    let res = server.delete("/__admin/chats");
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["statusCode"], 0);
    assert_eq!(admin_list(&server, ""), Vec::<Value>::new());
    assert_eq!(
        server.get("/__admin/health").json()["chats"],
        json!({"WaitingForAgent": 0, "Chatting": 0, "Idle": 0})
    );
    for id in [&a, &b] {
        server.get(&format!("/api/v2/chats/{id}")).assert_error(404, 6);
        server.get(&format!("/api/v2/chats/{id}/messages")).assert_error(404, 6);
        server.send_message(id, "Hello?").assert_error(404, 6);
        server.get(&format!("/__admin/chats/{id}")).assert_error(404, 6);
        server.agent(id, json!({"action": "join"})).assert_error(404, 6);
    }
    // The emulator carries on: a new chat works as usual.
    let c = server.request_chat("Cleo");
    wait_for_agent(&server, &c);
    assert_eq!(admin_list(&server, "").len(), 1);
}

// ---- 9. seeded runs ----

fn first_chat(seed: &str) -> (String, i64) {
    let server = Server::builder().arg("--seed", seed).arg("--agent-join-delay", "1s..4s").start();
    let id = server.request_chat("James");
    let chat = server.admin_chat(&id);
    let join = chat["pendingWork"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == "agent_join")
        .unwrap_or_else(|| panic!("the agent's join is pending: {chat}"))
        .clone();
    (id, join["due"].as_i64().unwrap() - chat["created"].as_i64().unwrap())
}

#[test]
fn a_seed_makes_chat_ids_and_delays_reproducible() {
    let (id_a, delay_a) = first_chat("42");
    let (id_b, delay_b) = first_chat("42");
    let (id_c, _) = first_chat("43");
    assert_eq!(uuid::Uuid::parse_str(&id_a).expect("a UUID").get_version_num(), 4);
    assert_eq!(id_a, id_b, "the same seed gives the same first chat id");
    assert_ne!(id_a, id_c, "another seed gives another chat id");
    assert_eq!(delay_a, delay_b, "the same seed gives the same agent join delay");
    assert!((1000..=4000).contains(&delay_a), "the join delay is in its range: {delay_a} ms");
}
