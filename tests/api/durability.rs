//! What survives a restart: scheduled work (it runs after the emulator comes back), transcripts
//! and read cursors, and every acknowledged write even after SIGKILL. Deleting chat.db resets
//! the emulator even when a crash left chat.db-wal and chat.db-shm behind.

use std::time::Duration;

use crate::helpers::{indexes, texts, Server, TempDir};
use serde_json::{json, Value};

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn wait_chatting(server: &Server, id: &str) {
    server.wait_for("the agent to join", Duration::from_secs(10), || {
        (server.state(id) == "Chatting").then_some(())
    });
}

#[test]
fn an_agent_join_scheduled_before_a_restart_happens_after_it() {
    let mut server = Server::builder().arg("--agent-join-delay", "1500ms").start();
    let id = server.request_chat("Ada");
    assert_eq!(server.state(&id), "WaitingForAgent");
    let pending = server.admin_chat(&id)["pendingWork"].clone();
    assert!(pending.as_array().unwrap().iter().any(|j| j["kind"] == "agent_join"), "{pending}");
    server.stop();

    let restarted_at = now_ms();
    server.start_again();
    wait_chatting(&server, &id);
    let all = server.transcript_from(&id, 0);
    let joined = all
        .iter()
        .find(|m| m["type"] == "ParticipantJoined" && m["from"]["type"] == "Agent")
        .unwrap();
    assert!(
        joined["utcTime"].as_i64().unwrap() >= restarted_at,
        "the agent joined after the restart, not before it"
    );
}

#[test]
fn work_that_fell_due_while_the_emulator_was_down_runs_when_it_starts() {
    let mut server = Server::builder().arg("--agent-join-delay", "300ms").start();
    let id = server.request_chat("Ada");
    server.stop();
    // The server is down: nothing races here. Let the join fall due while it is stopped.
    std::thread::sleep(Duration::from_millis(400));
    let restarted_at = now_ms();
    server.start_again();
    wait_chatting(&server, &id);
    let joined_at = server.all_messages(&id)[2]["utcTime"].as_i64().unwrap();
    assert!(joined_at >= restarted_at);
}

#[test]
fn a_reply_scheduled_before_a_restart_is_sent_after_it_exactly_once() {
    let mut server =
        Server::builder().arg("--reply-delay", "1500ms").arg("--bot-typing", "false").start();
    let id = server.request_chat("Ada");
    wait_chatting(&server, &id);
    server.send_message(&id, "Anyone there?");
    server.stop();

    let restarted_at = now_ms();
    server.start_again();
    let all = server.wait_for_message(&id, "the bot's reply", |m| m["text"] == "Good question...");
    let reply = all.iter().find(|m| m["text"] == "Good question...").unwrap();
    assert!(reply["utcTime"].as_i64().unwrap() >= restarted_at);
    server.wait_for("no pending reply", Duration::from_secs(5), || {
        server.admin_chat(&id)["pendingWork"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["kind"] != "bot_reply")
            .then_some(())
    });
    let replies = texts(&server.all_messages(&id), "Text")
        .iter()
        .filter(|t| *t == "Good question...")
        .count();
    assert_eq!(replies, 1);
}

#[test]
fn transcripts_and_read_cursors_survive_a_restart() {
    let mut server = Server::manual();
    let id = server.request_chat("Ada");
    server.send_message(&id, "before the restart");
    let before = server.poll(&id);
    assert_eq!(indexes(&before), [1, 2, 3]);
    server.agent(&id, json!({"action": "join"}));
    let agent_seen =
        server.get(&format!("/__admin/chats/{id}/messages")).json()["messages"].clone();
    assert_eq!(agent_seen.as_array().unwrap().len(), 4);

    server.restart();
    assert_eq!(server.poll(&id).len(), 1, "only the agent's join is new to the customer");
    assert_eq!(server.poll(&id), Vec::<Value>::new());
    let agent_after =
        server.get(&format!("/__admin/chats/{id}/messages")).json()["messages"].clone();
    assert_eq!(agent_after, json!([]), "the agent's cursor survived too");
    let all = server.transcript_from(&id, 0);
    assert_eq!(&all[..3], &before[..]);
    assert_eq!(server.state(&id), "Chatting");
    server.send_message(&id, "after the restart");
    assert_eq!(indexes(&server.poll(&id)), [5]);
}

#[test]
fn acknowledged_messages_survive_sigkill() {
    let mut server = Server::manual();
    let id = server.request_chat("Ada");
    for i in 0..100 {
        assert_eq!(server.send_message(&id, &format!("m{i}")).status, 200);
    }
    let chat2 = server.request_chat("Bob");
    server.kill();
    server.start_again();
    let all = server.transcript_from(&id, 0);
    let expected: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&all, "Text"), expected);
    assert_eq!(server.state(&chat2), "WaitingForAgent");
}

#[test]
fn deleting_chat_db_after_a_crash_resets_despite_stale_wal_files() {
    let dir = TempDir::new();
    let db = dir.path().join("chat.db");
    let mut server = Server::builder().arg("--agent-mode", "manual").in_dir(dir).start();
    let id = server.request_chat("Ada");
    for i in 0..20 {
        server.send_message(&id, &format!("m{i}"));
    }
    server.kill();
    let wal = db.with_file_name("chat.db-wal");
    let shm = db.with_file_name("chat.db-shm");
    assert!(wal.exists() && shm.exists(), "a crash leaves -wal and -shm behind");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0, "the WAL holds the chat");

    std::fs::remove_file(&db).unwrap();
    server.start_again();
    server.get(&format!("/api/v2/chats/{id}")).assert_error(404, 6);
    let list = server.get("/__admin/chats").json();
    assert_eq!(list["chats"], json!([]), "an empty emulator");
    assert!(server.log_text().contains("removing it"), "the reset is logged");
    // And it works as new.
    let fresh = server.request_chat("Bob");
    assert_eq!(indexes(&server.poll(&fresh)), [1, 2]);
}

#[test]
fn deleting_chat_db_after_a_clean_stop_resets() {
    let dir = TempDir::new();
    let db = dir.path().join("chat.db");
    let mut server = Server::builder().in_dir(dir).start();
    let id = server.request_chat("Ada");
    server.stop();
    std::fs::remove_file(&db).unwrap();
    server.start_again();
    server.get(&format!("/api/v2/chats/{id}")).assert_error(404, 6);
    let health = server.get("/__admin/health").json();
    assert_eq!(health["chats"], json!({"WaitingForAgent": 0, "Chatting": 0, "Idle": 0}));
}

#[test]
fn the_schema_is_recorded_and_readable_in_sqlite() {
    let mut server = Server::manual();
    let id = server.request_chat("Ada");
    server.send_message(&id, "hello from the shell");
    server.stop();

    let conn = rusqlite::Connection::open(server.db()).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    let migrations = gws_emulator::store::MIGRATIONS;
    assert_eq!(version, migrations.len() as i64);
    for (i, (file, _)) in migrations.iter().enumerate() {
        let name: String = conn
            .query_row(
                "SELECT name FROM schema_migrations WHERE version = ?1",
                [i as i64 + 1],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(&name, file);
    }
    assert_eq!(migrations[0].0, "0001_init");
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    // The readable transcript view a person would query.
    let (from, text): (String, String) = conn
        .query_row(
            "SELECT \"from\", text FROM transcript WHERE chat = ?1 AND type = 'Text'",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((from.as_str(), text.as_str()), ("Ada", "hello from the shell"));
}

#[test]
fn deleting_chat_db_while_running_starts_over_on_a_fresh_database() {
    let server = Server::manual();
    let old = server.request_chat("Ada");
    server.send_message(&old, "into the old file");
    std::fs::remove_file(server.db()).unwrap();

    // Noticed within a couple of seconds: the old chat is gone, a fresh file is in place.
    server.wait_for("a fresh database", Duration::from_secs(5), || {
        (server.get(&format!("/api/v2/chats/{old}")).status == 404).then_some(())
    });
    assert!(server.db().exists(), "chat.db exists again");
    assert!(server.log_text().contains("starting over on a fresh database"), "and it is logged");
    let health = server.get("/__admin/health").json();
    assert_eq!(health["chats"], json!({"WaitingForAgent": 0, "Chatting": 0, "Idle": 0}));

    // What is written now lands in the file a person can see.
    let new = server.request_chat("Bob");
    server.send_message(&new, "into the new file");
    let conn = rusqlite::Connection::open(server.db()).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM transcript WHERE chat = ?1 AND text = 'into the new file'",
            [&new],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}
