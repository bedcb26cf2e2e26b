//! The documented contract kept whole, and what a long-lived shared service needs: whole
//! transcripts, texts that fit, retention with the file kept small, a bounded write-ahead log,
//! the admin token, and a health answer to wait on.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{messages, wait_for, Server};
use serde_json::json;

fn frozen_with_retention(retention: &str) -> Server {
    Server::builder()
        .arg("--agent-mode", "manual")
        .arg("--clock", "frozen")
        .arg("--retention", retention)
        .start()
}

fn exists(server: &Server, id: &str) -> bool {
    let res = server.get(&format!("/__admin/chats/{id}"));
    match res.status {
        200 => true,
        404 => false,
        other => panic!("GET /__admin/chats/{id}: {other} {}", res.text()),
    }
}

#[test]
fn a_transcript_of_1500_messages_is_read_whole_by_index_0_and_by_the_cursor() {
    let server = Server::manual();
    let id = server.request_chat("Ada");
    for i in 0..1498 {
        assert_eq!(server.send_message(&id, &format!("message {i}")).status, 200);
    }
    let unread = server.poll(&id);
    assert_eq!(unread.len(), 1500, "the unread read returns everything unread");
    assert!(server.poll(&id).is_empty());
    let all = messages(&server.get(&format!("/api/v2/chats/{id}/messages?index=0")));
    assert_eq!(all.len(), 1500, "index=0 returns every message");
    assert_eq!(all.last().unwrap()["text"], "message 1497");
    assert_eq!(all, unread);
    // The agent side reads it whole too.
    let agent = messages(&server.get(&format!("/__admin/chats/{id}/messages")));
    assert_eq!(agent.len(), 1500);
}

#[test]
fn a_60000_character_text_is_accepted_and_stored_byte_for_byte() {
    let server = Server::manual();
    let id = server.request_chat("Ada");
    let text: String = (0..60_000)
        .map(|i| match i % 1000 {
            0 => '中',
            1 => '<',
            2 => '"',
            n if n % 100 == 3 => 'é',
            _ => 'a',
        })
        .collect();
    assert_eq!(text.chars().count(), 60_000);
    let body = json!({"operationName": "SendMessage", "text": text}).to_string();
    assert!(body.len() < 64 * 1024, "fits the default body limit: {} bytes", body.len());
    let res = server.send_message(&id, &text);
    assert_eq!(res.status, 200, "{}", res.text());
    let last = server.all_messages(&id).last().unwrap().clone();
    assert_eq!(last["text"].as_str().unwrap(), text, "stored byte for byte");
    let polled = server.poll(&id);
    assert_eq!(polled.last().unwrap()["text"].as_str().unwrap(), text);
}

#[test]
fn the_opt_in_caps_still_work_when_set() {
    let server = Server::builder()
        .arg("--agent-mode", "manual")
        .arg("--max-text", "10")
        .arg("--transcript-page", "3")
        .start();
    let id = server.request_chat("Ada");
    server.send_message(&id, "0123456789x").assert_error(400, 2);
    assert_eq!(server.send_message(&id, "0123456789").status, 200);
    server.agent(&id, json!({"action": "join"}));
    server.agent(&id, json!({"action": "message", "text": "0123456789x"})).assert_error(400, 2);
    let first = server.poll(&id);
    assert_eq!(first.len(), 3, "a page of 3");
    assert_eq!(server.poll(&id).len(), 1, "then the rest");
    let from = messages(&server.get(&format!("/api/v2/chats/{id}/messages?index=2")));
    assert_eq!(from.len(), 3);
    assert_eq!(from[0]["index"], 2);
}

#[test]
fn retention_deletes_ended_chats_and_keeps_open_ones_across_a_restart() {
    let mut server = Server::builder()
        .arg("--agent-mode", "manual")
        .arg("--clock", "frozen")
        .arg("--retention", "1h")
        .arg("--idle-timeout", "0")
        .start();
    let health = server.get("/__admin/health").json();
    assert_eq!(health["retentionMs"], 3_600_000, "{health}");
    let ended = server.request_chat("Ada");
    let open = server.request_chat("Bob");
    assert_eq!(server.complete(&ended).status, 200);
    server.post("/__admin/clock", &json!({"advance": "59m"}));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(exists(&server, &ended), "kept within the retention");
    server.post("/__admin/clock", &json!({"advance": "2m"}));
    wait_for("the ended chat to be deleted", Duration::from_secs(10), || {
        (!exists(&server, &ended)).then_some(())
    });
    assert!(exists(&server, &open), "an open chat is never deleted");
    server.get(&format!("/api/v2/chats/{ended}")).assert_error(404, 6);

    // After a restart, retention goes on.
    let later = server.request_chat("Cid");
    assert_eq!(server.complete(&later).status, 200);
    server.restart();
    assert!(exists(&server, &later));
    server.post("/__admin/clock", &json!({"advance": "61m"}));
    wait_for("the chat ended before the restart to be deleted", Duration::from_secs(10), || {
        (!exists(&server, &later)).then_some(())
    });
    assert!(exists(&server, &open));
    let conn = rusqlite::Connection::open(server.db()).unwrap();
    let orphans: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM messages WHERE chat_rowid NOT IN (SELECT rowid FROM chats))
                  + (SELECT count(*) FROM participants WHERE chat_rowid NOT IN (SELECT rowid FROM chats))
                  + (SELECT count(*) FROM read_cursors WHERE chat_rowid NOT IN (SELECT rowid FROM chats))
                  + (SELECT count(*) FROM jobs WHERE chat_rowid NOT IN (SELECT rowid FROM chats))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "messages, participants, cursors and work went with their chats");
}

#[test]
fn retention_zero_keeps_ended_chats_forever() {
    let server = frozen_with_retention("0");
    assert!(server.get("/__admin/health").json()["retentionMs"].is_null());
    let id = server.request_chat("Ada");
    server.complete(&id);
    server.post("/__admin/clock", &json!({"advance": "365d"}));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(exists(&server, &id));
}

#[test]
fn the_pages_of_deleted_chats_go_back_to_the_file_system() {
    // The journal off: its 4 KiB bodies of every SendMessage would stay (it keeps its own size).
    let mut server = Server::builder()
        .arg("--agent-mode", "manual")
        .arg("--clock", "frozen")
        .arg("--retention", "1h")
        .arg("--journal-size", "0")
        .start();
    let text = "z".repeat(4000);
    let ids: Vec<String> = (0..100).map(|i| server.request_chat(&format!("c{i}"))).collect();
    for id in &ids {
        for _ in 0..20 {
            assert_eq!(server.send_message(id, &text).status, 200);
        }
        assert_eq!(server.complete(id).status, 200);
    }
    let keep = server.request_chat("Keep");
    let conn = rusqlite::Connection::open(server.db()).unwrap();
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, 2, "a new database is incremental from the start");
    drop(conn);
    server.stop();
    let pages = |server: &Server| -> (i64, i64) {
        let conn = rusqlite::Connection::open(server.db()).unwrap();
        let count: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0)).unwrap();
        (count, free)
    };
    let (before, _) = pages(&server);
    let size_before = std::fs::metadata(server.db()).unwrap().len();
    assert!(size_before > 8 << 20, "8 MB of messages: {size_before}");
    server.start_again();
    server.post("/__admin/clock", &json!({"advance": "2h"}));
    wait_for("the ended chats to be deleted", Duration::from_secs(20), || {
        let list = server.get("/__admin/chats?state=Idle").json();
        list["chats"].as_array().unwrap().is_empty().then_some(())
    });
    assert!(exists(&server, &keep));
    server.stop();
    let (after, free) = pages(&server);
    let size_after = std::fs::metadata(server.db()).unwrap().len();
    println!("chat.db: {before} pages ({size_before} bytes) before, {after} pages ({size_after} bytes, {free} free) after");
    assert!(after * 4 < before, "the file shrank: {before} -> {after} pages");
    assert!(size_after * 4 < size_before);
}

#[test]
fn health_answers_503_while_the_database_cannot_be_used() {
    let server = Server::manual();
    let res = server.get("/__admin/health");
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["status"], "ok");
    // The file is deleted and a folder takes its name: the emulator cannot start over on it.
    std::fs::remove_file(server.db()).unwrap();
    std::fs::create_dir(server.db()).unwrap();
    wait_for("health to answer 503", Duration::from_secs(10), || {
        let res = server.get("/__admin/health");
        (res.status == 503).then_some(res)
    })
    .assert_error(503, 4);
    server.request_chat_status_is(503);
    std::fs::remove_dir(server.db()).unwrap();
    wait_for("health to answer 200 again", Duration::from_secs(10), || {
        (server.get("/__admin/health").status == 200).then_some(())
    });
    server.request_chat("Ada");
}

trait RequestChatStatus {
    fn request_chat_status_is(&self, status: u16);
}

impl RequestChatStatus for Server {
    fn request_chat_status_is(&self, status: u16) {
        let res =
            self.post("/api/v2/chats", &json!({"operationName": "RequestChat", "nickname": "Ada"}));
        assert_eq!(res.status, status, "{}", res.text());
    }
}

fn wal_size(server: &Server) -> u64 {
    let mut wal = server.db().into_os_string();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn the_write_ahead_log_stays_small_under_load_and_is_emptied_at_a_clean_stop() {
    let _alone = crate::helpers::exclusive();
    // The default timings: joins and system messages run while the chats are created.
    let mut server = Server::builder()
        .arg("--agent-join-delay", "1s..4s")
        .arg("--reply-delay", "0s..2s")
        .arg("--system-message-interval", "20s")
        .arg("--idle-timeout", "30m")
        .arg("--scheduler-tick", "20ms")
        .start();
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, peak, path) = (done.clone(), peak.clone(), server.db());
        std::thread::spawn(move || {
            let mut wal = path.into_os_string();
            wal.push("-wal");
            while !done.load(Ordering::SeqCst) {
                let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                peak.fetch_max(size, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let port = server.port;
            std::thread::spawn(move || {
                for i in 0..2500 {
                    let body = json!({"operationName": "RequestChat", "nickname": format!("c{c}-{i}"), "subject": "load"});
                    let res = crate::helpers::try_request(port, "POST", "/api/v2/chats", &[], body.to_string().as_bytes()).unwrap();
                    assert_eq!(res.status, 200, "{}", res.text());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // Let the joins and system messages of 20 000 chats run for a while too.
    std::thread::sleep(Duration::from_secs(3));
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let peak = peak.load(Ordering::SeqCst);
    println!(
        "20 000 chats in {:?}; the -wal peaked at {:.1} MiB",
        started.elapsed(),
        peak as f64 / 1048576.0
    );
    assert!(peak < 64 << 20, "the -wal grew to {peak} bytes");
    // Once the writes slow down, the file is cut back (under load it is only restarted).
    let deadline = Instant::now() + Duration::from_secs(20);
    while wal_size(&server) > 16 << 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let calm = wal_size(&server);
    println!("once the writes slowed down the -wal holds {calm} bytes");
    assert!(calm <= 16 << 20, "the -wal was not cut back when the writes slowed: {calm} bytes");
    server.stop();
    let left = wal_size(&server);
    println!("after a clean stop the -wal holds {left} bytes");
    assert!(left < 1 << 20, "the -wal left after a clean stop: {left} bytes");
}

#[test]
fn with_an_admin_token_every_admin_route_needs_it() {
    let token = "s3cret-token";
    let server =
        Server::builder().arg("--agent-mode", "manual").arg("--admin-token", token).start();
    let id = server.request_chat("Ada");
    let right = format!("Bearer {token}");
    for route in gws_emulator::api::ROUTES.iter().filter(|r| r.path.starts_with("/__admin")) {
        let path = route.path.replace("{id}", &id);
        for endpoint in route.endpoints {
            let method = endpoint.method();
            let body: &[u8] = if method == "POST" { b"{}" } else { b"" };
            for (auth, what) in [
                (None, "no token"),
                (Some("Bearer wrong".to_string()), "a wrong token"),
                (Some(token.to_string()), "the token without Bearer"),
            ] {
                let headers: Vec<(&str, &str)> =
                    auth.iter().map(|a| ("Authorization", a.as_str())).collect();
                let res = server.request(method, &path, &headers, body);
                assert_eq!(res.status, 401, "{method} {path} with {what}: {}", res.text());
                res.assert_error(401, 3);
            }
            if path.ends_with("/events") || method == "DELETE" {
                continue; // a stream, and the reset: checked below
            }
            let res = server.request(method, &path, &[("Authorization", &right)], body);
            assert_ne!(res.status, 401, "{method} {path} with the token: {}", res.text());
        }
    }
    let res = server.request("DELETE", "/__admin/chats", &[("Authorization", &right)], b"");
    assert_eq!(res.status, 200, "{}", res.text());
    let stream =
        crate::sse::SseStream::open(server.port, "/__admin/events", &[("Authorization", &right)]);
    assert_eq!(stream.status, 200);
    // The customer API, the preflight and the web client need no token.
    let id = server.request_chat("Bob");
    assert_eq!(server.get(&format!("/api/v2/chats/{id}")).status, 200);
    assert_eq!(
        server
            .request(
                "OPTIONS",
                "/__admin/chats",
                &[("Origin", "http://x"), ("Access-Control-Request-Method", "GET")],
                b""
            )
            .status,
        204
    );
    assert_eq!(server.get("/client/").status, 200);
    assert_eq!(server.get("/client/agent.html").status, 200);
}

#[test]
fn binding_beyond_loopback_without_a_token_warns_loudly() {
    let mut server = Server::builder().arg("--bind", "0.0.0.0").start();
    let stderr = server.stderr_text();
    assert!(stderr.contains("WARNING") && stderr.contains("--admin-token"), "{stderr}");
    server.stop();
    let quiet = Server::builder().arg("--bind", "0.0.0.0").arg("--admin-token", "t").start();
    let stderr = quiet.stderr_text();
    assert!(!stderr.contains("WARNING"), "{stderr}");
}
