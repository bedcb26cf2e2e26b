//! Read cursors and message indexes: each poll delivers every message exactly once, `index`
//! recovers the transcript without moving the cursor backwards, and concurrent writers and
//! readers never produce a gap, a duplicate or a skipped message.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::helpers::{indexes, texts, Server};
use serde_json::{json, Value};

#[test]
fn polling_delivers_each_message_once() {
    let server = Server::manual();
    let id = server.request_chat("Ada");
    let first = server.poll(&id);
    assert_eq!(indexes(&first), [1, 2], "the customer's and system's ParticipantJoined");
    assert_eq!(server.poll(&id), Vec::<Value>::new());

    server.send_message(&id, "one");
    server.send_message(&id, "two");
    let next = server.poll(&id);
    assert_eq!(indexes(&next), [3, 4]);
    assert_eq!(texts(&next, "Text"), ["one", "two"]);
    assert_eq!(server.poll(&id), Vec::<Value>::new());
}

#[test]
fn index_returns_from_that_message_on_and_moves_the_cursor_forward_only() {
    let server = Server::manual();
    let id = server.request_chat("Ada");
    for text in ["a", "b", "c", "d"] {
        server.send_message(&id, text);
    }
    // Transcript: 1, 2 joined; 3..6 texts.
    let whole = server.transcript_from(&id, 0);
    assert_eq!(indexes(&whole), [1, 2, 3, 4, 5, 6]);
    assert_eq!(server.transcript_from(&id, 1), whole, "index=1 is the whole transcript too");
    assert_eq!(indexes(&server.transcript_from(&id, 5)), [5, 6]);
    assert_eq!(server.transcript_from(&id, 7), Vec::<Value>::new());
    assert_eq!(server.transcript_from(&id, u32::MAX as u64 * 4), Vec::<Value>::new());

    // The cursor moved to 6 with index=0: nothing new for a plain poll.
    assert_eq!(server.poll(&id), Vec::<Value>::new());
    server.send_message(&id, "e");
    // Reading an older range does not move the cursor back, nor past the new message.
    assert_eq!(indexes(&server.transcript_from(&id, 2))[0], 2);
    assert_eq!(indexes(&server.poll(&id)), Vec::<i64>::new(), "index=2 read up to 7 already");
    server.send_message(&id, "f");
    assert_eq!(indexes(&server.poll(&id)), [8]);

    // A partial read with index moves the cursor to its last message.
    let other = server.request_chat("Bob");
    server.send_message(&other, "x");
    assert_eq!(indexes(&server.transcript_from(&other, 3)), [3]);
    assert_eq!(server.poll(&other), Vec::<Value>::new());
}

#[test]
fn concurrent_polls_never_receive_a_message_twice_or_skip_one() {
    let server = Arc::new(Server::manual());
    let id = server.request_chat("Ada");
    const MESSAGES: usize = 150;
    const POLLERS: usize = 8;
    let done = Arc::new(AtomicBool::new(false));

    let pollers: Vec<_> = (0..POLLERS)
        .map(|_| {
            let (server, id, done) = (server.clone(), id.clone(), done.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let batch = server.poll(&id);
                    let empty = batch.is_empty();
                    got.extend(indexes(&batch));
                    if finished && empty {
                        return got;
                    }
                }
            })
        })
        .collect();

    for i in 0..MESSAGES {
        let res = server.send_message(&id, &format!("message {i}"));
        assert_eq!(res.status, 200, "{}", res.text());
    }
    done.store(true, Ordering::SeqCst);

    let mut all: Vec<i64> = Vec::new();
    for p in pollers {
        let got = p.join().unwrap();
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(got, sorted, "one poller receives messages in index order");
        all.extend(got);
    }
    all.sort();
    let expected: Vec<i64> = (1..=(MESSAGES as i64 + 2)).collect();
    assert_eq!(all, expected, "every message delivered exactly once across the pollers");
}

#[test]
fn sixteen_concurrent_writers_get_contiguous_indexes() {
    let server = Arc::new(Server::manual());
    let id = server.request_chat("Ada");
    server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    const WRITERS: usize = 16;
    const EACH: usize = 25;

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (server, id) = (server.clone(), id.clone());
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let text = format!("writer {w} message {i}");
                    // Half the writers are the customer, half the agent: two write paths.
                    let res = if w % 2 == 0 {
                        server.send_message(&id, &text)
                    } else {
                        server.agent(&id, json!({"action": "message", "text": text}))
                    };
                    assert_eq!(res.status, 200, "{}", res.text());
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }

    let all = server.transcript_from(&id, 0);
    let expected: Vec<i64> = (1..=all.len() as i64).collect();
    assert_eq!(indexes(&all), expected, "indexes are 1..N with no gap or duplicate");
    let sent: BTreeSet<String> = texts(&all, "Text").into_iter().collect();
    assert_eq!(sent.len(), WRITERS * EACH, "every acknowledged message is there exactly once");
    assert_eq!(all.len(), 3 + WRITERS * EACH, "two joins, the agent's join, and the messages");
    // Each writer's own messages keep their order.
    for w in 0..WRITERS {
        let mine: Vec<String> = texts(&all, "Text")
            .into_iter()
            .filter(|t| t.starts_with(&format!("writer {w} ")))
            .collect();
        let expected: Vec<String> = (0..EACH).map(|i| format!("writer {w} message {i}")).collect();
        assert_eq!(mine, expected);
    }
}

#[test]
fn concurrent_chats_do_not_disturb_each_other() {
    let server = Arc::new(Server::manual());
    let ids: Vec<String> = (0..8).map(|i| server.request_chat(&format!("c{i}"))).collect();
    let threads: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let server = server.clone();
            std::thread::spawn(move || {
                let mut got = indexes(&server.poll(&id));
                for i in 0..20 {
                    server.send_message(&id, &format!("{id} {i}"));
                    got.extend(indexes(&server.poll(&id)));
                }
                (id, got)
            })
        })
        .collect();
    for t in threads {
        let (id, got) = t.join().unwrap();
        let expected: Vec<i64> = (1..=22).collect();
        assert_eq!(got, expected);
        let all = server.transcript_from(&id, 0);
        assert!(
            texts(&all, "Text").iter().all(|t| t.starts_with(&id)),
            "no message leaked between chats"
        );
    }
}

#[test]
fn a_long_transcript_comes_in_pages_by_cursor_or_by_index() {
    let server =
        Server::builder().arg("--agent-mode", "manual").arg("--transcript-page", "5").start();
    let id = server.request_chat("Ada");
    for i in 0..10 {
        server.send_message(&id, &format!("m{i}"));
    }
    // 12 messages; each poll returns at most 5 and moves the cursor past them.
    assert_eq!(indexes(&server.poll(&id)), [1, 2, 3, 4, 5]);
    assert_eq!(indexes(&server.poll(&id)), [6, 7, 8, 9, 10]);
    assert_eq!(indexes(&server.poll(&id)), [11, 12]);
    assert_eq!(server.poll(&id), Vec::<Value>::new());
    // Paging by index: ask from the last index received + 1.
    assert_eq!(indexes(&server.transcript_from(&id, 0)), [1, 2, 3, 4, 5]);
    assert_eq!(indexes(&server.transcript_from(&id, 6)), [6, 7, 8, 9, 10]);
    assert_eq!(indexes(&server.transcript_from(&id, 11)), [11, 12]);
}
