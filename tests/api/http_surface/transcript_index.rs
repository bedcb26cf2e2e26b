//! GetTranscript with `index`: the whole transcript, from any message on, past the end.

use crate::helpers::{indexes, Server};
use serde_json::{json, Value};

/// A manual-mode chat with nine messages: two joins, the agent's join, three customer texts,
/// an agent text, and the agent's typing.
fn chat_with_nine_messages(server: &Server) -> String {
    let id = server.request_chat("James");
    assert_eq!(server.agent(&id, json!({"action": "join", "nickname": "Ann"})).status, 200);
    for text in ["one", "two", "three"] {
        assert_eq!(server.send_message(&id, text).status, 200);
    }
    for body in [
        json!({"action": "message", "text": "four"}),
        json!({"action": "typingStarted"}),
        json!({"action": "typingStopped"}),
    ] {
        assert_eq!(server.agent(&id, body.clone()).status, 200, "{body}");
    }
    assert_eq!(server.all_messages(&id).len(), 9);
    id
}

#[test]
fn index_0_and_index_1_both_return_the_whole_transcript() {
    let server = Server::manual();
    let id = chat_with_nine_messages(&server);
    let all = server.all_messages(&id);
    let from_0 = server.transcript_from(&id, 0);
    let from_1 = server.transcript_from(&id, 1);
    assert_eq!(indexes(&from_0), (1..=9).collect::<Vec<i64>>());
    assert_eq!(from_0, all);
    assert_eq!(from_1, all);
    // Repeatable: index reads return the same whatever the cursor did.
    assert_eq!(server.transcript_from(&id, 0), all);
}

#[test]
fn index_n_returns_every_message_from_n_on() {
    let server = Server::manual();
    let id = chat_with_nine_messages(&server);
    let all = server.all_messages(&id);
    for n in 1..=9u64 {
        let got = server.transcript_from(&id, n);
        let expected: Vec<i64> = (n as i64..=9).collect();
        assert_eq!(indexes(&got), expected, "index={n}");
        assert_eq!(got[..], all[(n as usize - 1)..], "index={n} gives the same messages");
    }
    // Reading with index moved the cursor to the last message returned: no unread left.
    assert_eq!(server.poll(&id), Vec::<Value>::new());
    // A new message is found from its own index.
    assert_eq!(server.send_message(&id, "five").status, 200);
    let got = server.transcript_from(&id, 10);
    assert_eq!(indexes(&got), [10]);
    assert_eq!(got[0]["text"], "five");
}

#[test]
fn an_index_past_the_end_returns_no_messages() {
    let server = Server::manual();
    let id = chat_with_nine_messages(&server);
    for n in [10u64, 11, 1000, i64::MAX as u64] {
        let res = server.get(&format!("/api/v2/chats/{id}/messages?index={n}"));
        assert_eq!(res.status, 200, "index={n}: {}", res.text());
        assert_eq!(res.json(), json!({"messages": [], "statusCode": 0}), "index={n}");
    }
    // Nothing was returned, so nothing was consumed: a poll still gets everything.
    assert_eq!(indexes(&server.poll(&id)), (1..=9).collect::<Vec<i64>>());
}
