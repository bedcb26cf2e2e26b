//! Fault injection on the customer API and the request journal, over real HTTP: each fault's
//! effect on the wire and in the transcript, times and seeded probabilities, matching by chat,
//! the admin API untouched; every request recorded, bodies cut at 4 KiB, the size bound, the
//! switch, and the journal across a restart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{Server, APIKEY};
use serde_json::{json, Value};

fn add_fault(server: &Server, rule: Value) -> String {
    let res = server.post("/__admin/faults", &rule);
    assert_eq!(res.status, 200, "{rule}: {}", res.text());
    res.json()["id"].as_str().unwrap().to_string()
}

/// Sends a request and reads until the server closes: the raw bytes of whatever came back.
fn raw(port: u16, method: &str, path: &str, body: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the answer: {e}"),
        }
        if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
            break;
        }
    }
    out
}

fn send_body(text: &str) -> String {
    json!({"operationName": "SendMessage", "text": text}).to_string()
}

fn customer_texts(server: &Server, id: &str) -> Vec<String> {
    server
        .all_messages(id)
        .iter()
        .filter(|m| m["type"] == "Text" && m["from"]["type"] == "Customer")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_status_fault_refuses_and_changes_nothing() {
    let server = Server::manual();
    let id = server.request_chat("Ada");
    add_fault(
        &server,
        json!({"match": {"operation": "SendMessage"}, "fault": {"status": 503, "statusCode": 4}, "times": 2}),
    );
    for _ in 0..2 {
        server.send_message(&id, "refused").assert_error(503, 4);
    }
    assert_eq!(server.send_message(&id, "third").status, 200, "times 2: the third goes through");
    assert_eq!(customer_texts(&server, &id), ["third"]);
    // Other operations are not matched.
    assert_eq!(server.get(&format!("/api/v2/chats/{id}")).status, 200);
    // A 4xx with its own statusCode; the CORS header is there, as on every answer.
    add_fault(
        &server,
        json!({"match": {"operation": "GetChat"}, "fault": {"status": 429, "statusCode": 2}, "times": 1}),
    );
    let res = server.request(
        "GET",
        &format!("/api/v2/chats/{id}"),
        &[("Origin", "http://w.example")],
        b"",
    );
    res.assert_error(429, 2);
    assert_eq!(res.header("Access-Control-Allow-Origin"), Some("*"));
}

#[test]
fn a_delay_fault_waits_then_acts_and_answers() {
    let server = Server::manual();
    let id = server.request_chat("Ada");
    add_fault(
        &server,
        json!({"match": {"operation": "SendMessage"}, "fault": {"delay": "700ms"}, "times": 1}),
    );
    let started = Instant::now();
    assert_eq!(server.send_message(&id, "slow").status, 200);
    assert!(started.elapsed() >= Duration::from_millis(700), "{:?}", started.elapsed());
    assert_eq!(customer_texts(&server, &id), ["slow"]);
}

#[test]
fn drop_before_closes_without_acting_and_drop_after_acts_then_closes() {
    let server = Server::manual();
    let id = server.request_chat("Ada");
    let path = format!("/api/v2/chats/{id}");
    add_fault(
        &server,
        json!({"match": {"operation": "SendMessage"}, "fault": {"drop": "before"}, "times": 1}),
    );
    let got = raw(server.port, "POST", &path, &send_body("lost before"));
    assert!(
        got.is_empty(),
        "no answer at all, not even an empty one: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(customer_texts(&server, &id).is_empty(), "not acted on");

    add_fault(
        &server,
        json!({"match": {"operation": "SendMessage"}, "fault": {"drop": "after"}, "times": 1}),
    );
    let got = raw(server.port, "POST", &path, &send_body("kept after"));
    assert!(got.is_empty(), "the answer is lost: {:?}", String::from_utf8_lossy(&got));
    assert_eq!(customer_texts(&server, &id), ["kept after"], "the write is not lost");
    // The server goes on serving.
    assert_eq!(server.send_message(&id, "next").status, 200);
}

#[test]
fn a_rule_on_a_chat_matches_its_every_operation_and_no_other_chat() {
    let server = Server::manual();
    let a = server.request_chat("Ada");
    let b = server.request_chat("Bob");
    add_fault(
        &server,
        json!({"match": {"chat": a.to_uppercase()}, "fault": {"status": 500, "statusCode": 4}}),
    );
    server.get(&format!("/api/v2/chats/{a}")).assert_error(500, 4);
    server.get(&format!("/api/v2/chats/{a}/messages")).assert_error(500, 4);
    server.send_message(&a, "x").assert_error(500, 4);
    server.complete(&a).assert_error(500, 4);
    assert_eq!(server.get(&format!("/api/v2/chats/{b}")).status, 200);
    assert_eq!(server.send_message(&b, "fine").status, 200);
    // The admin API is never faulted, even by a rule that matches everything.
    add_fault(&server, json!({"fault": {"drop": "before"}}));
    assert_eq!(server.get(&format!("/__admin/chats/{a}")).status, 200);
    assert_eq!(server.get("/__admin/health").status, 200);
    assert_eq!(server.get("/client/").status, 200);
    let list = server.get("/__admin/faults").json();
    assert_eq!(list["faults"][0]["fired"], 4);
    assert_eq!(list["faults"][0]["match"]["chat"], a.as_str());
}

fn probability_run(seed: &str) -> Vec<u16> {
    let server = Server::builder().arg("--agent-mode", "manual").arg("--seed", seed).start();
    let id = server.request_chat("Ada");
    add_fault(
        &server,
        json!({"match": {"operation": "GetChat"}, "fault": {"status": 503}, "probability": 0.5}),
    );
    (0..40).map(|_| server.get(&format!("/api/v2/chats/{id}")).status).collect()
}

#[test]
fn a_probability_with_a_seed_gives_the_same_sequence_twice() {
    let a = probability_run("11");
    let b = probability_run("11");
    assert_eq!(a, b);
    let faulted = a.iter().filter(|s| **s == 503).count();
    assert!((5..=35).contains(&faulted), "about half: {faulted} of 40");
}

#[test]
fn rules_are_listed_deleted_and_checked() {
    let server = Server::manual();
    for bad in [
        json!({}),
        json!({"fault": {"status": 99}}),
        json!({"fault": {"drop": "later"}}),
        json!({"fault": {"delay": "soon"}}),
        json!({"fault": {"status": 503}, "times": -1}),
        json!({"fault": {"status": 503}, "probability": 1.5}),
        json!({"match": {"operation": "Explode"}, "fault": {"status": 503}}),
        json!({"match": {"chat": "not-a-chat"}, "fault": {"status": 503}}),
    ] {
        server.post("/__admin/faults", &bad).assert_error(400, 2);
    }
    server.request("POST", "/__admin/faults", &[], b"nope").assert_error(400, 1);
    let one = add_fault(&server, json!({"fault": {"status": 503}}));
    let two = add_fault(&server, json!({"fault": {"delay": 10}}));
    assert_ne!(one, two);
    assert_eq!(server.get("/__admin/faults").json()["faults"].as_array().unwrap().len(), 2);
    assert_eq!(server.delete(&format!("/__admin/faults/{one}")).status, 200);
    server.delete(&format!("/__admin/faults/{one}")).assert_error(404, 6);
    assert_eq!(server.delete("/__admin/faults").json()["deleted"], 1);
    assert!(server.get("/__admin/faults").json()["faults"].as_array().unwrap().is_empty());
    // A restart clears them (they live in memory).
    let mut server = server;
    add_fault(&server, json!({"fault": {"status": 503}}));
    server.restart();
    assert!(server.get("/__admin/faults").json()["faults"].as_array().unwrap().is_empty());
}

fn requests(server: &Server, query: &str) -> Vec<Value> {
    let res = server.get(&format!("/__admin/requests{query}"));
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()["requests"].as_array().unwrap().clone()
}

#[test]
fn the_journal_records_every_kind_of_request_newest_first() {
    let server =
        Server::builder().arg("--agent-mode", "manual").arg("--require-apikey", "true").start();
    let key = [("apikey", APIKEY), ("Content-Type", "application/json")];
    let res = server.request(
        "POST",
        "/api/v2/chats",
        &key,
        br#"{"operationName":"RequestChat","nickname":"Ada"}"#,
    );
    let id = res.json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/v2/chats/{id}");
    server.request("POST", &path, &key, send_body("hello").as_bytes());
    server.request("POST", &path, &key, b"{}").assert_error(400, 1);
    server
        .request("GET", "/api/v2/chats/00000000-0000-4000-8000-000000000000", &key, b"")
        .assert_error(404, 6);
    server.request("GET", &path, &[], b"").assert_error(401, 3);
    server.request("DELETE", &path, &key, b"").assert_error(405, 2);
    add_fault(
        &server,
        json!({"match": {"operation": "GetTranscript"}, "fault": {"status": 503}, "times": 1}),
    );
    server.request("GET", &format!("{path}/messages"), &key, b"").assert_error(503, 4);
    server.get("/__admin/health"); // not the customer API: not recorded

    let all = requests(&server, "");
    let seen: Vec<(String, Value, Value)> = all
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["operation"].clone(),
                e["httpStatus"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GET".into(), json!("GetTranscript"), json!(503)),
            ("DELETE".into(), json!(null), json!(405)),
            ("GET".into(), json!("GetChat"), json!(401)),
            ("GET".into(), json!("GetChat"), json!(404)),
            ("POST".into(), json!(null), json!(400)),
            ("POST".into(), json!("SendMessage"), json!(200)),
            ("POST".into(), json!("RequestChat"), json!(200)),
        ]
    );
    let request_chat = &all[6];
    assert_eq!(request_chat["chat"], id.as_str(), "RequestChat's new chat is named");
    assert_eq!(request_chat["statusCode"], 0);
    assert!(request_chat["requestBody"].as_str().unwrap().contains("Ada"));
    assert!(request_chat["responseBody"].as_str().unwrap().contains(&id));
    assert_eq!(all[5]["requestBody"], send_body("hello"));
    assert_eq!(all[4]["statusCode"], 1);
    assert_eq!(all[0]["fault"]["status"], 503);
    assert!(all
        .iter()
        .all(|e| e["durationUs"].as_i64().unwrap() >= 0 && e["at"].as_i64().unwrap() > 0));
    // Filters.
    assert_eq!(requests(&server, &format!("?chat={id}")).len(), 6);
    assert_eq!(requests(&server, "?operation=GetChat").len(), 2);
    assert_eq!(requests(&server, "?status=503").len(), 1);
    assert_eq!(requests(&server, "?limit=2").len(), 2);
    server.get("/__admin/requests?status=abc").assert_error(400, 2);
    server.get("/__admin/requests?limit=0").assert_error(400, 2);
    // Readable with sqlite3.
    let conn = rusqlite::Connection::open(server.db()).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM requests WHERE operation = 'SendMessage'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1);
    // And emptied.
    assert_eq!(server.delete("/__admin/requests").status, 200);
    assert!(requests(&server, "").is_empty());
}

#[test]
fn big_bodies_are_cut_at_4_kib_and_marked() {
    let server = Server::manual();
    let id = server.request_chat("Ada");
    let text = "é".repeat(5000);
    assert_eq!(server.send_message(&id, &text).status, 200);
    let entry = requests(&server, "?operation=SendMessage")[0].clone();
    assert_eq!(entry["truncated"], true);
    let body = entry["requestBody"].as_str().unwrap();
    assert!(body.len() <= 4096 && body.len() > 4000, "{}", body.len());
    assert!(body.starts_with("{\"operationName\""));
    let entry = requests(&server, "?operation=GetTranscript").first().cloned();
    assert!(entry.is_none());
    server.get(&format!("/api/v2/chats/{id}/messages?index=0"));
    let entry = requests(&server, "?operation=GetTranscript")[0].clone();
    assert_eq!(entry["truncated"], true);
    assert!(entry["responseBody"].as_str().unwrap().len() <= 4096);
    assert_eq!(entry["statusCode"], 0, "found at the end of the whole answer");
}

#[test]
fn the_journal_keeps_at_most_its_size_can_be_off_and_survives_a_restart() {
    let mut server =
        Server::builder().arg("--agent-mode", "manual").arg("--journal-size", "5").start();
    let id = server.request_chat("Ada");
    for i in 0..12 {
        server.send_message(&id, &format!("m{i}"));
    }
    let all = requests(&server, "?limit=100");
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["requestBody"], send_body("m11"), "the newest are kept");
    server.send_message(&id, "before the restart");
    server.restart();
    let all = requests(&server, "");
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["requestBody"], send_body("before the restart"));

    let off = Server::builder().arg("--agent-mode", "manual").arg("--journal-size", "0").start();
    let id = off.request_chat("Ada");
    off.send_message(&id, "not recorded");
    assert!(requests(&off, "").is_empty());
}
