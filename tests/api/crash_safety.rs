//! Crash safety (issue "Robustness"): concurrent writers while the emulator is killed with
//! SIGKILL at random moments, again and again. Every acknowledged operation must survive, an
//! operation whose answer was lost happened at most once, the transcript stays contiguous, read
//! cursors stay within it, and the contact centre's pending work still runs after the restart.
//!
//! The writers use the harness's `try_request`, whose `Err` (a refused or cut connection) is
//! exactly what these tests provoke. Both tests run alone (`exclusive`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::{exclusive, indexes, try_request, Response, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The seed of a test's random choices: `GWS_TEST_SEED` to replay a run, else the clock.
fn seed() -> u64 {
    std::env::var("GWS_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| now_ms() as u64 ^ (u64::from(std::process::id()) << 32))
}

/// One request on a new connection; `Err` when the connection is refused or cut before the
/// whole answer arrived (the emulator was killed): the operation's outcome is then unknown.
fn try_call(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Response, String> {
    let body = body.map(Value::to_string).unwrap_or_default();
    try_request(port, method, path, &[("Content-Type", "application/json")], body.as_bytes())
}

fn status_code(res: &Response) -> Option<i64> {
    serde_json::from_slice::<Value>(&res.body).ok()?["statusCode"].as_i64()
}

/// What the writers share: the port (0 while the emulator is down), the chats to write to, and
/// the signal to stop.
struct Shared {
    port: AtomicU16,
    stop: AtomicBool,
    chats: Mutex<Vec<String>>,
}

/// What one writer saw: each operation acknowledged (200, statusCode 0), refused (400,
/// statusCode 2: the chat had ended), unknown (no whole answer), or unexpected (anything else).
#[derive(Default)]
struct Record {
    sent: Vec<(String, String)>,
    sent_unknown: Vec<(String, String)>,
    sent_refused: Vec<(String, String)>,
    created: Vec<String>,
    created_unknown: usize,
    completed: Vec<String>,
    completed_unknown: Vec<String>,
    completed_refused: Vec<String>,
    /// Per chat, the indexes each acknowledged poll delivered.
    polled: Vec<(String, Vec<i64>)>,
    polls_unknown: usize,
    unexpected: Vec<String>,
}

impl Record {
    fn unknown(&self) -> usize {
        self.sent_unknown.len()
            + self.created_unknown
            + self.completed_unknown.len()
            + self.polls_unknown
    }

    fn merge(&mut self, other: Record) {
        self.sent.extend(other.sent);
        self.sent_unknown.extend(other.sent_unknown);
        self.sent_refused.extend(other.sent_refused);
        self.created.extend(other.created);
        self.created_unknown += other.created_unknown;
        self.completed.extend(other.completed);
        self.completed_unknown.extend(other.completed_unknown);
        self.completed_refused.extend(other.completed_refused);
        self.polled.extend(other.polled);
        self.polls_unknown += other.polls_unknown;
        self.unexpected.extend(other.unexpected);
    }
}

fn acknowledged(res: &Response) -> bool {
    res.status == 200 && status_code(res) == Some(0)
}

fn refused(res: &Response) -> bool {
    res.status == 400 && status_code(res) == Some(2)
}

/// Loops until told to stop: RequestChat, SendMessage (unique texts ending in a digit, so the
/// bot's answer is `<text> to you too!`), GetTranscript polls, and now and then Complete.
fn writer(w: usize, seed: u64, shared: Arc<Shared>) -> Record {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rec = Record::default();
    let mut n = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        let port = shared.port.load(Ordering::SeqCst);
        if port == 0 {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let chat = {
            let chats = shared.chats.lock().unwrap();
            (!chats.is_empty()).then(|| chats[rng.random_range(0..chats.len())].clone())
        };
        let roll = rng.random_range(0..100);
        n += 1;
        let before = rec.unknown();
        match chat {
            Some(chat) if roll >= 20 => {
                let text = format!("w{w} n{n}");
                let body = json!({"operationName": "SendMessage", "text": text});
                match try_call(port, "POST", &format!("/api/v2/chats/{chat}"), Some(&body)) {
                    Err(_) => rec.sent_unknown.push((chat, text)),
                    Ok(res) if acknowledged(&res) => rec.sent.push((chat, text)),
                    Ok(res) if refused(&res) => {
                        shared.chats.lock().unwrap().retain(|c| *c != chat);
                        rec.sent_refused.push((chat, text));
                    }
                    Ok(res) => rec.unexpected.push(format!(
                        "SendMessage {chat} -> {} {}",
                        res.status,
                        res.text()
                    )),
                }
            }
            Some(chat) if roll >= 10 => {
                match try_call(port, "GET", &format!("/api/v2/chats/{chat}/messages"), None) {
                    Err(_) => rec.polls_unknown += 1,
                    Ok(res) if acknowledged(&res) => {
                        rec.polled.push((chat, indexes(res.json()["messages"].as_array().unwrap())))
                    }
                    Ok(res) => rec.unexpected.push(format!(
                        "GetTranscript {chat} -> {} {}",
                        res.status,
                        res.text()
                    )),
                }
            }
            Some(chat) if roll >= 7 => {
                let body = json!({"operationName": "Complete"});
                match try_call(port, "POST", &format!("/api/v2/chats/{chat}"), Some(&body)) {
                    // Maybe ended, maybe not: keep writing to it, its answers will tell.
                    Err(_) => rec.completed_unknown.push(chat),
                    Ok(res) if acknowledged(&res) => {
                        shared.chats.lock().unwrap().retain(|c| *c != chat);
                        rec.completed.push(chat);
                    }
                    Ok(res) if refused(&res) => {
                        shared.chats.lock().unwrap().retain(|c| *c != chat);
                        rec.completed_refused.push(chat);
                    }
                    Ok(res) => rec.unexpected.push(format!(
                        "Complete {chat} -> {} {}",
                        res.status,
                        res.text()
                    )),
                }
            }
            _ => {
                let body = json!({"operationName": "RequestChat", "nickname": format!("w{w}")});
                match try_call(port, "POST", "/api/v2/chats", Some(&body)) {
                    Err(_) => rec.created_unknown += 1,
                    Ok(res) if acknowledged(&res) => {
                        let id = res.json()["id"].as_str().unwrap().to_string();
                        shared.chats.lock().unwrap().push(id.clone());
                        rec.created.push(id);
                    }
                    Ok(res) => {
                        rec.unexpected.push(format!("RequestChat -> {} {}", res.status, res.text()))
                    }
                }
            }
        }
        if rec.unknown() > before {
            // The emulator is down: try again a little later rather than spin.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    rec
}

/// The agent's `ParticipantJoined` messages of a transcript.
fn agent_joins(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|m| m["type"] == "ParticipantJoined" && m["from"]["type"] == "Agent")
        .collect()
}

/// Waits until the contact centre has nothing left to do and no chat waits for an agent.
fn wait_until_settled(server: &Server, timeout: Duration) -> Value {
    server.wait_for("every pending job to run", timeout, || {
        let health = server.get("/__admin/health").json();
        (health["pendingWork"] == 0 && health["chats"]["WaitingForAgent"] == 0).then_some(health)
    })
}

const WRITERS: usize = 6;
const CYCLES: usize = 5;

#[test]
fn acknowledged_operations_survive_repeated_sigkill_under_concurrent_writers() {
    let _heavy = exclusive();
    let seed = seed();
    eprintln!("crash test seed {seed} (set GWS_TEST_SEED={seed} to replay the kill delays)");
    let mut rng = StdRng::seed_from_u64(seed);
    // Joins and replies slow enough that some are always pending when the kill lands.
    let mut server = Server::builder()
        .arg("--agent-join-delay", "200ms..500ms")
        .arg("--reply-delay", "100ms..300ms")
        .start();
    let first: Vec<String> = (0..8).map(|i| server.request_chat(&format!("first{i}"))).collect();
    let shared = Arc::new(Shared {
        port: AtomicU16::new(server.port),
        stop: AtomicBool::new(false),
        chats: Mutex::new(first.clone()),
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (shared, seed) = (shared.clone(), seed.wrapping_add(w as u64 + 1));
            std::thread::spawn(move || writer(w, seed, shared))
        })
        .collect();

    // The main thread's own chat and message just before the last kill: pending work for sure.
    let mut last_chat = String::new();
    let mut last_kill_at = 0;
    for cycle in 1..=CYCLES {
        let delay = rng.random_range(100..=600);
        std::thread::sleep(Duration::from_millis(delay));
        if cycle == CYCLES {
            last_chat = server.request_chat("last");
            let res = server.send_message(&last_chat, "just before the last kill 1");
            assert_eq!(res.status, 200, "{}", res.text());
        }
        last_kill_at = now_ms();
        server.kill();
        shared.port.store(0, Ordering::SeqCst);
        eprintln!("cycle {cycle}: killed after {delay} ms");
        if cycle < CYCLES {
            server.start_again();
            shared.port.store(server.port, Ordering::SeqCst);
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    let mut rec = Record::default();
    for w in writers {
        rec.merge(w.join().expect("a writer panicked"));
    }
    eprintln!(
        "acknowledged: {} messages, {} chats, {} completes, {} polls; unknown: {} messages, \
         {} chats, {} completes, {} polls; refused: {} messages, {} completes",
        rec.sent.len(),
        rec.created.len(),
        rec.completed.len(),
        rec.polled.len(),
        rec.sent_unknown.len(),
        rec.created_unknown,
        rec.completed_unknown.len(),
        rec.polls_unknown,
        rec.sent_refused.len(),
        rec.completed_refused.len()
    );
    assert!(rec.unexpected.is_empty(), "answers other than 200 or 400/2: {:#?}", rec.unexpected);
    assert!(rec.sent.len() >= 50, "the writers got enough done to test anything");

    // The emulator is down: read what the last kill left pending, and check the file itself.
    let pending_at_kill: Vec<(String, String, Option<i64>)> = {
        let db = rusqlite::Connection::open(server.db()).unwrap();
        let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "the database is intact after SIGKILL");
        let mut stmt = db
            .prepare(
                "SELECT c.id, j.kind, j.reply_to FROM jobs j JOIN chats c ON c.rowid = j.chat_rowid
                 WHERE j.kind IN ('agent_join', 'bot_reply')",
            )
            .unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    };
    assert!(
        pending_at_kill.iter().any(|(chat, _, _)| *chat == last_chat),
        "the chat requested just before the last kill ({last_chat}) had no work pending at it"
    );
    eprintln!("{} agent joins and replies were pending at the last kill", pending_at_kill.len());

    server.start_again();
    let restarted_at = now_ms();
    assert!(restarted_at >= last_kill_at);
    let health = wait_until_settled(&server, Duration::from_secs(30));
    eprintln!("after the last restart: {health}");

    // ---- through the API ----
    let mut known: BTreeSet<String> = first.iter().cloned().collect();
    known.extend(rec.created.iter().cloned());
    known.insert(last_chat.clone());
    let mut transcripts: HashMap<String, Value> = HashMap::new();
    for id in &known {
        let chat = server.admin_chat(id);
        let messages = chat["messages"].as_array().unwrap();
        let expected: Vec<i64> = (1..=messages.len() as i64).collect();
        assert_eq!(indexes(messages), expected, "chat {id}: indexes are 1..N");
        for (reader, at) in chat["readCursors"].as_object().unwrap() {
            assert!(
                at.as_i64().unwrap() <= messages.len() as i64,
                "chat {id}: the {reader} cursor {at} is past the last index {}",
                messages.len()
            );
        }
        assert_eq!(chat["pendingWork"], json!([]), "chat {id}: nothing left to do");
        transcripts.insert(id.clone(), chat);
    }
    let customer_texts = |id: &str| -> Vec<String> {
        transcripts[id]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] == "Text" && m["from"]["type"] == "Customer")
            .map(|m| m["text"].as_str().unwrap().to_string())
            .collect()
    };
    for (chat, text) in &rec.sent {
        let n = customer_texts(chat).iter().filter(|t| *t == text).count();
        assert_eq!(n, 1, "acknowledged message {text:?} appears {n} times in chat {chat}");
    }
    for (chat, text) in &rec.sent_unknown {
        let n = customer_texts(chat).iter().filter(|t| *t == text).count();
        assert!(n <= 1, "unacknowledged message {text:?} appears {n} times in chat {chat}");
    }
    for (chat, text) in &rec.sent_refused {
        assert!(!customer_texts(chat).contains(text), "refused message {text:?} was stored");
        assert_eq!(transcripts[chat]["state"], "Idle", "a refused SendMessage means it ended");
    }
    for chat in rec.completed.iter().chain(&rec.completed_refused) {
        assert_eq!(transcripts[chat]["state"], "Idle", "chat {chat} was completed");
    }
    // A poll's answer that arrived was recorded; none may repeat a message another one got.
    let mut delivered: HashMap<&str, BTreeSet<i64>> = HashMap::new();
    for (chat, got) in &rec.polled {
        let sorted: Vec<i64> = (got.first().copied().unwrap_or(0)..).take(got.len()).collect();
        assert_eq!(got, &sorted, "one poll of {chat} is contiguous");
        for index in got {
            assert!(
                delivered.entry(chat).or_default().insert(*index),
                "message {index} of chat {chat} was delivered to two polls"
            );
        }
    }

    // ---- through the database file ----
    let db = rusqlite::Connection::open(server.db()).unwrap();
    let chats: Vec<(String, String, i64, i64, i64, i64)> = db
        .prepare(
            "SELECT c.id, c.state, c.last_index, count(m.idx), coalesce(min(m.idx), 0),
                    coalesce(max(m.idx), 0)
             FROM chats c LEFT JOIN messages m ON m.chat_rowid = c.rowid GROUP BY c.rowid",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let all_chats: BTreeSet<String> = chats.iter().map(|c| c.0.clone()).collect();
    assert!(known.is_subset(&all_chats), "every acknowledged chat is in chat.db");
    assert!(
        all_chats.len() <= known.len() + rec.created_unknown,
        "{} chats in chat.db, but only {} requested",
        all_chats.len(),
        known.len() + rec.created_unknown
    );
    let mut states: BTreeMap<String, String> = BTreeMap::new();
    for (id, state, last, count, min, max) in &chats {
        assert!(*count >= 2, "chat {id} has its two joins");
        assert_eq!((*min, *max, *count), (1, *last, *last), "chat {id}: indexes 1..last_index");
        states.insert(id.clone(), state.clone());
    }
    let over: Vec<(String, String, i64, i64)> = db
        .prepare(
            "SELECT c.id, r.reader, r.last_read_index, c.last_index FROM read_cursors r
             JOIN chats c ON c.rowid = r.chat_rowid WHERE r.last_read_index > c.last_index",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(over.is_empty(), "read cursors past the chat's last index: {over:?}");
    let stored: Vec<(String, String)> = db
        .prepare(
            "SELECT c.id, m.text FROM messages m JOIN chats c ON c.rowid = m.chat_rowid
             WHERE m.type = 'Text' AND m.participant_id = 1",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for row in stored {
        *counts.entry(row).or_default() += 1;
    }
    for key in &rec.sent {
        assert_eq!(counts.get(key), Some(&1), "acknowledged {key:?} is in chat.db once");
    }
    for key in &rec.sent_unknown {
        assert!(counts.get(key).copied().unwrap_or(0) <= 1, "{key:?} is in chat.db at most once");
    }
    let landed = rec.sent_unknown.iter().filter(|key| counts.contains_key(*key)).count();
    eprintln!("{landed} of {} messages whose answer was lost were stored", rec.sent_unknown.len());
    let attempted: BTreeSet<&(String, String)> = rec.sent.iter().chain(&rec.sent_unknown).collect();
    for key in counts.keys() {
        assert!(
            attempted.contains(key) || key.1.starts_with("just before the last kill"),
            "{key:?} is in chat.db but was never sent (or was refused)"
        );
    }
    for chat in &rec.completed {
        assert_eq!(states[chat], "Idle", "acknowledged Complete of {chat}");
    }

    // ---- the contact centre's work after the last restart ----
    for (id, state) in &states {
        let messages = server.all_messages(id);
        let joins = agent_joins(&messages);
        assert!(joins.len() <= 1, "chat {id}: the agent joined {} times", joins.len());
        if state != "Idle" {
            assert_eq!(state, "Chatting", "chat {id}");
            assert_eq!(joins.len(), 1, "chat {id}: the agent joined once");
        }
        let texts: Vec<&str> = messages
            .iter()
            .filter(|m| m["type"] == "Text")
            .map(|m| m["text"].as_str().unwrap())
            .collect();
        for m in messages.iter().filter(|m| m["type"] == "Text" && m["from"]["type"] == "Customer")
        {
            let question = m["text"].as_str().unwrap();
            let answer = format!("{question} to you too!");
            let n = texts.iter().filter(|t| **t == answer).count();
            if state == "Idle" {
                assert!(n <= 1, "chat {id}: {question:?} answered {n} times");
            } else {
                assert_eq!(n, 1, "chat {id}: {question:?} answered once");
            }
        }
    }
    for (id, kind, reply_to) in &pending_at_kill {
        let messages = server.all_messages(id);
        let done_at = match kind.as_str() {
            "agent_join" => agent_joins(&messages)[0]["utcTime"].as_i64().unwrap(),
            _ => {
                let index = reply_to.unwrap();
                let question = messages[index as usize - 1]["text"].as_str().unwrap();
                let answer = format!("{question} to you too!");
                let reply = messages.iter().find(|m| m["text"] == answer.as_str());
                reply.unwrap_or_else(|| panic!("{question:?} in {id} got no reply"))["utcTime"]
                    .as_i64()
                    .unwrap()
            }
        };
        assert!(
            done_at >= last_kill_at,
            "{kind} of chat {id} pending at the last kill ran at {done_at}, before it ({last_kill_at})"
        );
    }
}

#[test]
fn agent_joins_survive_a_restart_loop_and_happen_exactly_once() {
    let _heavy = exclusive();
    let mut server = Server::builder().arg("--agent-join-delay", "300ms..600ms").start();
    let mut chats: Vec<String> = Vec::new();
    for round in 0..6 {
        for i in 0..4 {
            chats.push(server.request_chat(&format!("r{round}c{i}")));
        }
        server.kill();
        server.start_again();
    }
    server.wait_for("every chat to be Chatting", Duration::from_secs(30), || {
        chats.iter().all(|id| server.state(id) == "Chatting").then_some(())
    });
    let mut lateness = Vec::new();
    for id in &chats {
        let chat = server.admin_chat(id);
        let messages = chat["messages"].as_array().unwrap();
        let joins = agent_joins(messages);
        assert_eq!(joins.len(), 1, "chat {id}: exactly one agent join in {messages:?}");
        let after = joins[0]["utcTime"].as_i64().unwrap() - chat["created"].as_i64().unwrap();
        assert!(after >= 300, "chat {id}: the agent joined {after} ms after the request");
        lateness.push(after);
        let agents =
            chat["participants"].as_array().unwrap().iter().filter(|p| p["type"] == "Agent");
        assert_eq!(agents.count(), 1, "chat {id}: one agent participant");
        assert_eq!(chat["pendingWork"], json!([]), "chat {id}");
    }
    lateness.sort();
    eprintln!(
        "agent joined after (ms): min {} median {} max {}",
        lateness[0],
        lateness[lateness.len() / 2],
        lateness[lateness.len() - 1]
    );
    let started = Instant::now();
    // Still exactly once a little later: nothing runs a second time.
    server.kill();
    server.start_again();
    wait_until_settled(&server, Duration::from_secs(10));
    for id in &chats {
        assert_eq!(agent_joins(&server.all_messages(id)).len(), 1, "chat {id}");
    }
    eprintln!("last restart checked in {:?}", started.elapsed());
}
