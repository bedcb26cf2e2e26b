//! Waiting and watching: long-polling reads of the agent side (`wait`) and Server-Sent Event
//! streams of one chat and of every chat, woken by the writer's commits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{messages, Server};
use crate::sse::SseStream;
use serde_json::{json, Value};

fn say(server: &Server, id: &str, text: &str) {
    let res = server.agent(id, json!({"action": "message", "text": text}));
    assert_eq!(res.status, 200, "{}", res.text());
}

fn joined(server: &Server) -> String {
    let id = server.request_chat("Ada");
    assert_eq!(server.agent(&id, json!({"action": "join", "nickname": "Ann"})).status, 200);
    id
}

#[test]
fn a_wait_answers_within_milliseconds_of_the_write() {
    let server = Server::manual();
    let id = joined(&server);
    let next = server.all_messages(&id).len() + 1;
    let port = server.port;
    let path = format!("/__admin/chats/{id}/messages?index={next}&wait=20s");
    let waiter = std::thread::spawn(move || {
        let res = crate::helpers::try_request(port, "GET", &path, &[], b"").unwrap();
        (Instant::now(), res)
    });
    std::thread::sleep(Duration::from_millis(300));
    say(&server, &id, "Here you are");
    let written = Instant::now();
    let (answered, res) = waiter.join().unwrap();
    let all = messages(&res);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["text"], "Here you are");
    assert_eq!(all[0]["index"], next as i64);
    let latency = answered.saturating_duration_since(written);
    println!("wait answered {latency:?} after the write was acknowledged");
    assert!(latency < Duration::from_secs(5), "the wait was not woken by the write: {latency:?}");
}

#[test]
fn a_wait_on_the_agent_cursor_returns_what_is_unread() {
    let server = Server::manual();
    let id = joined(&server);
    let first = messages(&server.get(&format!("/__admin/chats/{id}/messages?wait=5s")));
    assert_eq!(first.len(), 3, "what was there is answered at once: {first:?}");
    let port = server.port;
    let path = format!("/__admin/chats/{id}/messages?wait=20s");
    let waiter = std::thread::spawn(move || {
        crate::helpers::try_request(port, "GET", &path, &[], b"").unwrap()
    });
    std::thread::sleep(Duration::from_millis(200));
    server.send_message(&id, "Anyone?");
    let got = messages(&waiter.join().unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["text"], "Anyone?");
}

#[test]
fn a_wait_that_ends_answers_an_empty_transcript() {
    let server = Server::manual();
    let id = joined(&server);
    let started = Instant::now();
    let res = server.get(&format!("/__admin/chats/{id}/messages?index=99&wait=300ms"));
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
    assert_eq!(messages(&res), Vec::<Value>::new());
    // Messages of other chats do not end the wait.
    let other = joined(&server);
    let port = server.port;
    let path = format!("/__admin/chats/{id}/messages?index=99&wait=1s");
    let waiter = std::thread::spawn(move || {
        crate::helpers::try_request(port, "GET", &path, &[], b"").unwrap()
    });
    say(&server, &other, "not for you");
    assert_eq!(messages(&waiter.join().unwrap()), Vec::<Value>::new());
}

#[test]
fn bad_waits_are_refused() {
    let server = Server::manual();
    let id = joined(&server);
    for wait in ["61s", "2m", "soon", "-1s", ""] {
        server.get(&format!("/__admin/chats/{id}/messages?wait={wait}")).assert_error(400, 2);
    }
    server.get(&format!("/__admin/chats/{id}/messages?index=x&wait=1s")).assert_error(400, 2);
    let unknown = "00000000-0000-4000-8000-000000000000";
    server.get(&format!("/__admin/chats/{unknown}/messages?wait=1s")).assert_error(404, 6);
    // 60 s is the longest wait, and is accepted (answered at once here: there are messages).
    assert_eq!(
        messages(&server.get(&format!("/__admin/chats/{id}/messages?index=1&wait=60s"))).len(),
        3
    );
}

#[test]
fn a_chat_stream_starts_with_its_state_and_transcript_then_follows_it() {
    let server = Server::manual();
    let id = server.request_chat("Ada");
    let mut stream = SseStream::open(server.port, &format!("/__admin/chats/{id}/events"), &[]);
    assert_eq!(stream.status, 200, "{}", stream.head);
    assert!(
        stream.head.to_ascii_lowercase().contains("content-type: text/event-stream"),
        "{}",
        stream.head
    );
    let first = stream.next_event(Duration::from_secs(5)).expect("the state");
    assert_eq!(first.event, "state");
    assert_eq!(first.json(), json!({"chatId": id, "state": "WaitingForAgent"}));
    for index in 1..=2 {
        let e = stream.next_event(Duration::from_secs(5)).expect("a message");
        assert_eq!((e.event.as_str(), e.id.clone()), ("message", Some(format!("{id}:{index}"))));
        assert_eq!(e.json()["index"], index);
        assert_eq!(e.json()["chatId"], id.as_str());
    }
    assert_eq!(server.agent(&id, json!({"action": "join", "nickname": "Ann"})).status, 200);
    let events = stream.events_until(Duration::from_secs(5), |e| e.event == "state");
    assert_eq!(events[0].json()["type"], "ParticipantJoined");
    assert_eq!(events[0].json()["from"]["nickname"], "Ann");
    assert_eq!(events.last().unwrap().json(), json!({"chatId": id, "state": "Chatting"}));
    server.send_message(&id, "<b>hi</b> \"there\"");
    let e = stream.next_event(Duration::from_secs(5)).unwrap();
    assert_eq!(e.json()["text"], "<b>hi</b> \"there\"");
    assert_eq!(server.complete(&id).status, 200);
    let events = stream.events_until(Duration::from_secs(5), |e| e.event == "state");
    assert_eq!(events.last().unwrap().json()["state"], "Idle");
}

#[test]
fn the_all_chats_stream_announces_new_chats_and_carries_every_chats_messages() {
    let server = Server::manual();
    let mut stream = SseStream::open(server.port, "/__admin/events", &[]);
    assert_eq!(stream.status, 200);
    let a = server.request_chat("Ada");
    let b = server.request_chat("Bob");
    let events = stream.events_until(Duration::from_secs(5), |e| {
        e.event == "message" && e.json()["chatId"] == b.as_str() && e.json()["index"] == 2
    });
    let chats: Vec<Value> = events.iter().filter(|e| e.event == "chat").map(|e| e.json()).collect();
    assert_eq!(chats.len(), 2, "{events:?}");
    assert_eq!(chats[0]["id"], a.as_str());
    assert_eq!(chats[0]["nickname"], "Ada");
    assert_eq!(chats[0]["state"], "WaitingForAgent");
    assert_eq!(chats[1]["id"], b.as_str());
    let a_messages =
        events.iter().filter(|e| e.event == "message" && e.json()["chatId"] == a.as_str()).count();
    assert_eq!(a_messages, 2);
    // The chat event comes before the chat's first message.
    let pos = |pred: &dyn Fn(&crate::sse::SseEvent) -> bool| events.iter().position(pred).unwrap();
    assert!(
        pos(&|e| e.event == "chat" && e.json()["id"] == a.as_str())
            < pos(&|e| e.event == "message" && e.json()["chatId"] == a.as_str())
    );
}

#[test]
fn last_event_id_resumes_a_chat_stream_with_nothing_lost_or_doubled_under_concurrent_writers() {
    let server = Server::manual();
    let id = joined(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (port, id, stop) = (server.port, id.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut sent = 0;
                while !stop.load(Ordering::SeqCst) && sent < 150 {
                    let body =
                        json!({"action": "message", "text": format!("w{w}-{sent}")}).to_string();
                    let res = crate::helpers::try_request(
                        port,
                        "POST",
                        &format!("/__admin/chats/{id}/agent"),
                        &[],
                        body.as_bytes(),
                    )
                    .unwrap();
                    assert_eq!(res.status, 200);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let mut seen: Vec<i64> = Vec::new();
    let mut last_id: Option<String> = None;
    // Read a few events, drop the connection, resume with Last-Event-ID; several times.
    for round in 0..6 {
        let headers: Vec<(&str, &str)> =
            last_id.iter().map(|l| ("Last-Event-ID", l.as_str())).collect();
        let mut stream =
            SseStream::open(server.port, &format!("/__admin/chats/{id}/events"), &headers);
        assert_eq!(stream.status, 200);
        for _ in 0..(20 + round * 7) {
            let Some(e) = stream.next_event(Duration::from_secs(5)) else { break };
            if e.event == "message" {
                seen.push(e.json()["index"].as_i64().unwrap());
                last_id = e.id.clone();
            }
        }
        drop(stream);
    }
    stop.store(true, Ordering::SeqCst);
    let sent: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    // Read the rest after the writers stopped.
    let headers: Vec<(&str, &str)> =
        last_id.iter().map(|l| ("Last-Event-ID", l.as_str())).collect();
    let mut stream = SseStream::open(server.port, &format!("/__admin/chats/{id}/events"), &headers);
    let total = server.all_messages(&id).len() as i64;
    while seen.last() != Some(&total) {
        let e = stream.next_event(Duration::from_secs(5)).expect("the rest of the transcript");
        if e.event == "message" {
            seen.push(e.json()["index"].as_i64().unwrap());
        }
    }
    assert_eq!(total as usize, 3 + sent);
    assert_eq!(seen, (1..=total).collect::<Vec<_>>(), "every message once, in order");
}

#[test]
fn a_stalled_subscriber_does_not_slow_the_writers_and_is_cut_off() {
    let _alone = crate::helpers::exclusive();
    let server = Server::manual();
    let id = joined(&server);
    // Two subscribers that never read: one on the chat, one on every chat.
    let mut stalled = SseStream::open(server.port, &format!("/__admin/chats/{id}/events"), &[]);
    let mut stalled_all = SseStream::open(server.port, "/__admin/events", &[]);
    let text = "x".repeat(4000);
    let started = Instant::now();
    for _ in 0..4000 {
        let res = server.send_message(&id, &text);
        assert_eq!(res.status, 200, "{}", res.text());
    }
    println!(
        "4000 SendMessage of 4000 characters with two stalled subscribers: {:?}",
        started.elapsed()
    );
    // The stalled chat subscriber fell behind by more than its buffer and is cut off: reading
    // now finds what was buffered, a comment saying so, and the end of the stream.
    assert!(stalled.wait_end(Duration::from_secs(30)), "the stalled chat stream was not ended");
    assert!(
        stalled.comments.iter().any(|c| c.contains("fell too far behind")),
        "{:?}",
        stalled.comments
    );
    // The all-chats subscriber still gets events when it reads again (or was cut off likewise).
    let e = stalled_all.next_event(Duration::from_secs(10));
    assert!(e.is_some() || stalled_all.ended);
    // A new subscriber is served as usual, from where it says.
    let last = format!("{id}:4002");
    let mut fresh = SseStream::open(
        server.port,
        &format!("/__admin/chats/{id}/events"),
        &[("Last-Event-ID", &last)],
    );
    let e = fresh.events_until(Duration::from_secs(5), |e| e.event == "message");
    assert_eq!(e.last().unwrap().json()["index"], 4003);
}

#[test]
fn streams_end_when_the_server_stops() {
    let mut server = Server::manual();
    let id = joined(&server);
    let mut one = SseStream::open(server.port, &format!("/__admin/chats/{id}/events"), &[]);
    let mut all = SseStream::open(server.port, "/__admin/events", &[]);
    let port = server.port;
    let path = format!("/__admin/chats/{id}/messages?index=99&wait=60s");
    let waiter = std::thread::spawn(move || {
        crate::helpers::try_request(port, "GET", &path, &[], b"").unwrap()
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    server.stop();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM waited for the streams: {:?}",
        started.elapsed()
    );
    assert!(one.wait_end(Duration::from_secs(5)));
    assert!(all.wait_end(Duration::from_secs(5)));
    assert_eq!(
        messages(&waiter.join().unwrap()),
        Vec::<Value>::new(),
        "the long poll was answered"
    );
}

#[test]
fn bad_stream_requests_are_refused() {
    let server = Server::manual();
    let id = server.request_chat("Ada");
    let unknown = "00000000-0000-4000-8000-000000000000";
    let res = SseStream::open(server.port, &format!("/__admin/chats/{unknown}/events"), &[]);
    assert_eq!(res.status, 404);
    assert!(res.error_body().contains("\"statusCode\":6"));
    let res = SseStream::open(
        server.port,
        &format!("/__admin/chats/{id}/events"),
        &[("Last-Event-ID", "nonsense")],
    );
    assert_eq!(res.status, 400);
    server.post(&format!("/__admin/chats/{id}/events"), &json!({})).assert_error(405, 2);
    server.delete("/__admin/events").assert_error(405, 2);
}

#[test]
fn the_stream_of_a_deleted_chat_ends() {
    let server = Server::manual();
    let id = joined(&server);
    let mut stream = SseStream::open(server.port, &format!("/__admin/chats/{id}/events"), &[]);
    stream.events_until(Duration::from_secs(5), |e| e.event == "message" && e.json()["index"] == 3);
    assert_eq!(server.delete("/__admin/chats").status, 200);
    assert!(stream.wait_end(Duration::from_secs(5)), "the stream of a deleted chat is closed");
}
