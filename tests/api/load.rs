//! Load (issue "Robustness"): 64 concurrent clients on one chat and on many chats get only 200
//! answers (never 500, 503 or "database is locked"), lose and duplicate nothing, and their polls
//! together deliver every message exactly once; with 10 000 open chats stored, the scheduler
//! still runs new work on time.

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::helpers::{exclusive, indexes, texts, try_request, Server, TempDir};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const CLIENTS: usize = 64;
const RUN_FOR: Duration = Duration::from_secs(3);

fn seed() -> u64 {
    std::env::var("GWS_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64
    })
}

/// What one client did: acknowledged texts per chat, the indexes each poll delivered per chat,
/// every answer that was not a 200 with statusCode 0, and how long each kind of request took.
#[derive(Default)]
struct Client {
    sent: Vec<(usize, String)>,
    polled: Vec<(usize, Vec<i64>)>,
    bad: Vec<String>,
    took: HashMap<&'static str, Vec<Duration>>,
}

impl Client {
    /// Sends one request, timing it, and keeps it in `bad` unless it is a 200 with statusCode 0.
    fn call(
        &mut self,
        port: u16,
        op: &'static str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Option<Value> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let headers: &[(&str, &str)] =
            if method == "POST" { &[("Content-Type", "application/json")] } else { &[] };
        let start = Instant::now();
        let res = try_request(port, method, path, headers, body.as_bytes());
        self.took.entry(op).or_default().push(start.elapsed());
        let res = match res {
            Ok(res) => res,
            Err(e) => {
                self.bad.push(format!("{op} {path} -> no answer: {e}"));
                return None;
            }
        };
        let json: Option<Value> = serde_json::from_slice(&res.body).ok();
        if res.status == 200 && json.as_ref().is_some_and(|j| j["statusCode"] == 0) {
            json
        } else {
            self.bad.push(format!("{op} {path} -> {} {}", res.status, res.text()));
            None
        }
    }

    fn send(&mut self, port: u16, chat: usize, id: &str, text: String) {
        let body = json!({"operationName": "SendMessage", "text": text});
        if self
            .call(port, "SendMessage", "POST", &format!("/api/v2/chats/{id}"), Some(&body))
            .is_some()
        {
            self.sent.push((chat, text));
        }
    }

    fn poll(&mut self, port: u16, chat: usize, id: &str) {
        let path = format!("/api/v2/chats/{id}/messages");
        if let Some(body) = self.call(port, "GetTranscript", "GET", &path, None) {
            self.polled.push((chat, indexes(body["messages"].as_array().unwrap())));
        }
    }

    fn get_chat(&mut self, port: u16, id: &str) {
        self.call(port, "GetChat", "GET", &format!("/api/v2/chats/{id}"), None);
    }

    fn merge(&mut self, other: Client) {
        self.sent.extend(other.sent);
        self.polled.extend(other.polled);
        self.bad.extend(other.bad);
        for (op, took) in other.took {
            self.took.entry(op).or_default().extend(took);
        }
    }

    fn report(&self, what: &str) {
        let total: usize = self.took.values().map(Vec::len).sum();
        eprintln!("{what}: {total} requests in {RUN_FOR:?} from {CLIENTS} clients");
        let mut ops: Vec<_> = self.took.iter().collect();
        ops.sort_by_key(|(op, _)| **op);
        for (op, took) in ops {
            let mut took = took.clone();
            took.sort();
            let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize];
            eprintln!(
                "  {op:>13}: {:>6} requests, p50 {:>9.1?}, p99 {:>9.1?}, max {:>9.1?}",
                took.len(),
                at(0.5),
                at(0.99),
                at(1.0)
            );
        }
    }
}

/// Runs `CLIENTS` threads for `RUN_FOR`, each calling `step` in a loop with its own rng.
fn run_clients(step: impl Fn(&mut Client, usize, &mut StdRng) + Send + Sync + 'static) -> Client {
    let seed = seed();
    eprintln!("load seed {seed} (GWS_TEST_SEED={seed} replays the choices)");
    let step = Arc::new(step);
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (step, barrier) = (step.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(seed.wrapping_add(c as u64));
                let mut client = Client::default();
                barrier.wait();
                let end = Instant::now() + RUN_FOR;
                while Instant::now() < end {
                    step(&mut client, c, &mut rng);
                }
                client
            })
        })
        .collect();
    let mut all = Client::default();
    for t in threads {
        all.merge(t.join().expect("a client panicked"));
    }
    all
}

/// Every answer was a 200 with statusCode 0 (listing the first 20 others).
fn assert_all_ok(run: &Client) {
    assert!(
        run.bad.is_empty(),
        "{} answers other than 200 with statusCode 0, e.g. {:#?}",
        run.bad.len(),
        &run.bad[..run.bad.len().min(20)]
    );
}

/// No 5xx in the log and nothing about a locked database, in the log or on stderr.
fn assert_clean_logs(server: &Server) {
    let log = server.log_text();
    let stderr = server.stderr_text();
    for text in [&log, &stderr] {
        let bad: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("locked") || l.contains(" -> 5") || l.contains("ERROR"))
            .take(10)
            .collect();
        assert!(bad.is_empty(), "errors logged under load:\n{}", bad.join("\n"));
    }
}

/// Waits until the bot has answered everything in the chat (nothing pending).
fn wait_idle_work(server: &Server, id: &str) {
    server.wait_for("the bot to finish its replies", Duration::from_secs(60), || {
        let chat = server.admin_chat(id);
        (chat["pendingWork"] == json!([]) && chat["state"] == "Chatting").then_some(())
    });
}

/// Checks one chat after the load: indexes 1..N, every acknowledged text once and nothing
/// else from the customer, and the polls (plus a final drain) delivered 1..N exactly once.
fn check_chat(server: &Server, id: &str, sent: &[&str], polled: Vec<i64>) {
    let mut delivered = polled;
    loop {
        let batch = server.poll(id);
        if batch.is_empty() {
            break;
        }
        delivered.extend(indexes(&batch));
    }
    let all = server.all_messages(id);
    let expected: Vec<i64> = (1..=all.len() as i64).collect();
    assert_eq!(indexes(&all), expected, "chat {id}: indexes are 1..N");
    let mut customer: Vec<&str> = all
        .iter()
        .filter(|m| m["type"] == "Text" && m["from"]["type"] == "Customer")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    customer.sort();
    let mut sent = sent.to_vec();
    sent.sort();
    if customer != sent {
        let stored: HashMap<&str, usize> = counts(&customer);
        let acked: HashMap<&str, usize> = counts(&sent);
        let wrong: Vec<String> = stored
            .keys()
            .chain(acked.keys())
            .filter(|t| stored.get(*t) != acked.get(*t))
            .take(20)
            .map(|t| format!("{t:?}: sent {:?}, stored {:?}", acked.get(t), stored.get(t)))
            .collect();
        panic!("chat {id}: acknowledged texts and stored texts differ, e.g. {wrong:#?}");
    }
    let got: HashMap<i64, usize> = counts(&delivered);
    let mut twice: Vec<i64> = got.iter().filter(|(_, n)| **n > 1).map(|(i, _)| *i).collect();
    twice.sort();
    let missing: Vec<i64> = expected.iter().filter(|i| !got.contains_key(i)).copied().collect();
    assert!(
        twice.is_empty() && missing.is_empty() && got.len() == expected.len(),
        "chat {id} ({} messages): the polls delivered {} indexes more than once (first: {:?}), \
         missed {} (first: {:?}), and {} indexes that do not exist",
        expected.len(),
        twice.len(),
        &twice[..twice.len().min(20)],
        missing.len(),
        &missing[..missing.len().min(20)],
        got.keys().filter(|i| **i < 1 || **i > expected.len() as i64).count()
    );
}

fn counts<T: Copy + Eq + std::hash::Hash>(items: &[T]) -> HashMap<T, usize> {
    let mut counts = HashMap::new();
    for item in items {
        *counts.entry(*item).or_default() += 1;
    }
    counts
}

#[test]
fn sixty_four_clients_on_one_chat() {
    let _heavy = exclusive();
    let server = Server::start();
    let port = server.port;
    let id = server.request_chat("Crowd");
    let chat_id = id.clone();
    let run = run_clients(move |client, c, rng| match rng.random_range(0..10) {
        0..=3 => {
            let text = format!("client {c} message {}", client.sent.len());
            client.send(port, 0, &chat_id, text);
        }
        4..=6 => client.poll(port, 0, &chat_id),
        _ => client.get_chat(port, &chat_id),
    });
    run.report("one chat");
    assert_all_ok(&run);
    assert!(run.sent.len() >= 100, "only {} messages were sent", run.sent.len());

    wait_idle_work(&server, &id);
    let sent: Vec<&str> = run.sent.iter().map(|(_, t)| t.as_str()).collect();
    let polled: Vec<i64> = run.polled.into_iter().flat_map(|(_, p)| p).collect();
    check_chat(&server, &id, &sent, polled);
    assert_clean_logs(&server);
}

#[test]
fn sixty_four_clients_on_their_own_chats_with_cross_chat_reads() {
    let _heavy = exclusive();
    let server = Server::start();
    let port = server.port;
    let ids: Arc<Vec<String>> =
        Arc::new((0..CLIENTS).map(|c| server.request_chat(&format!("client{c}"))).collect());
    let chats = ids.clone();
    let run = run_clients(move |client, c, rng| {
        let other = rng.random_range(0..CLIENTS);
        match rng.random_range(0..10) {
            0..=3 => {
                let text = format!("client {c} message {}", client.sent.len());
                client.send(port, c, &chats[c], text);
            }
            4 | 5 => client.poll(port, c, &chats[c]),
            6 => client.get_chat(port, &chats[c]),
            // Cross-chat reads: another chat's poll (it counts for that chat), state, detail.
            7 => client.poll(port, other, &chats[other]),
            8 => client.get_chat(port, &chats[other]),
            _ => {
                let path = format!("/__admin/chats/{}", chats[other]);
                client.call(port, "admin detail", "GET", &path, None);
            }
        }
    });
    run.report("own chats");
    assert_all_ok(&run);

    let mut polled: Vec<Vec<i64>> = vec![Vec::new(); CLIENTS];
    for (chat, got) in run.polled {
        polled[chat].extend(got);
    }
    for (c, id) in ids.iter().enumerate() {
        wait_idle_work(&server, id);
        let sent: Vec<&str> =
            run.sent.iter().filter(|(chat, _)| *chat == c).map(|(_, t)| t.as_str()).collect();
        assert!(!sent.is_empty(), "client {c} sent nothing");
        check_chat(&server, id, &sent, std::mem::take(&mut polled[c]));
    }
    assert_clean_logs(&server);
}

const OPEN_CHATS: usize = 10_000;
const JOIN_DELAY_MS: i64 = 200;
const LATENESS_BOUND_MS: i64 = 1500;

#[test]
fn ten_thousand_open_chats_do_not_delay_the_scheduler() {
    let _heavy = exclusive();
    let started = Instant::now();
    // Manual mode, no system messages: the chats stay open and quiet, each with its idle
    // timeout an hour away (far-future work the scheduler must not trip over).
    let mut server = Server::builder()
        .arg("--agent-mode", "manual")
        .arg("--system-message-interval", "0")
        .arg("--idle-timeout", "1h")
        .start();
    let port = server.port;
    const THREADS: usize = 16;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut took = Vec::new();
                for i in (t..OPEN_CHATS).step_by(THREADS) {
                    let body =
                        json!({"operationName": "RequestChat", "nickname": format!("open{i}")});
                    let start = Instant::now();
                    let res = try_request(
                        port,
                        "POST",
                        "/api/v2/chats",
                        &[("Content-Type", "application/json")],
                        body.to_string().as_bytes(),
                    )
                    .unwrap_or_else(|e| panic!("RequestChat {i}: no answer: {e}"));
                    took.push((i, start.elapsed()));
                    assert_eq!(res.status, 200, "RequestChat {i}: {}", res.text());
                }
                took
            })
        })
        .collect();
    let mut took: Vec<(usize, Duration)> =
        threads.into_iter().flat_map(|t| t.join().expect("a creator panicked")).collect();
    took.sort();
    let avg = |part: &[(usize, Duration)]| {
        part.iter().map(|(_, d)| *d).sum::<Duration>() / part.len() as u32
    };
    eprintln!(
        "created {OPEN_CHATS} chats in {:?}; RequestChat average: first 1000 {:?}, last 1000 {:?}",
        started.elapsed(),
        avg(&took[..1000]),
        avg(&took[OPEN_CHATS - 1000..])
    );

    // The same database, now in bot mode: new chats get an agent after 200 ms.
    server.stop();
    let dir = std::mem::replace(&mut server.dir, TempDir::new());
    drop(server);
    let server = Server::builder()
        .arg("--agent-join-delay", &format!("{JOIN_DELAY_MS}ms"))
        .arg("--system-message-interval", "0")
        .arg("--idle-timeout", "1h")
        .in_dir(dir)
        .start();
    let health = server.get("/__admin/health").json();
    let stored: i64 =
        health["chats"].as_object().unwrap().values().map(|n| n.as_i64().unwrap()).sum();
    assert!(stored >= OPEN_CHATS as i64, "health counts {stored} chats: {health}");
    assert!(health["pendingWork"].as_i64().unwrap() >= OPEN_CHATS as i64, "{health}");
    assert_eq!(health["chats"]["WaitingForAgent"], OPEN_CHATS as i64, "{health}");

    let fresh: Vec<String> = (0..20).map(|i| server.request_chat(&format!("new{i}"))).collect();
    server.wait_for("the new chats' agents", Duration::from_secs(30), || {
        fresh.iter().all(|id| server.state(id) == "Chatting").then_some(())
    });
    let mut late = Vec::new();
    for id in &fresh {
        let chat = server.admin_chat(id);
        let messages = chat["messages"].as_array().unwrap();
        let join = messages
            .iter()
            .find(|m| m["type"] == "ParticipantJoined" && m["from"]["type"] == "Agent")
            .unwrap_or_else(|| panic!("no agent join in {id}"));
        let after = join["utcTime"].as_i64().unwrap() - chat["created"].as_i64().unwrap();
        assert!(after >= JOIN_DELAY_MS, "chat {id}: the agent joined early, after {after} ms");
        late.push(after - JOIN_DELAY_MS);
    }
    let mut sorted = late.clone();
    sorted.sort();
    eprintln!(
        "agent join lateness past the {JOIN_DELAY_MS} ms delay, with {OPEN_CHATS} chats stored \
         (ms): {late:?}; median {}, max {}",
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );
    assert!(
        sorted[sorted.len() - 1] <= LATENESS_BOUND_MS,
        "an agent joined {} ms late (bound {LATENESS_BOUND_MS} ms)",
        sorted[sorted.len() - 1]
    );
    let health = server.get("/__admin/health").json();
    eprintln!("health: {health}; whole test {:?}", started.elapsed());
    assert_eq!(health["chats"]["Chatting"], 20, "{health}");
    assert_clean_logs(&server);
}

const UNKNOWN_CHAT: &str = "00000000-0000-4000-8000-000000000000";

/// With more requests waiting for the database than `--max-pending`, the emulator answers 503
/// with a GWS body at once instead of queueing without bound. The test itself holds SQLite's
/// write lock, so the first request waits inside the emulator and the others find the queue full.
#[test]
fn a_full_database_queue_answers_503_instead_of_falling_over() {
    let server =
        Arc::new(Server::builder().arg("--agent-mode", "manual").arg("--max-pending", "1").start());
    let id = server.request_chat("Ada");
    let conn = rusqlite::Connection::open(server.db()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();

    // The first writer must get the one place in the queue and wait for our lock. A probe that
    // holds the place at the moment the writer arrives gets the writer refused instead: then the
    // scene is not set, and it is tried again (nothing is written either way while we hold the lock).
    let mut scene = None;
    for attempt in 0..20 {
        let text = format!("attempt {attempt} waits for the lock");
        let first = {
            let (server, id, text) = (server.clone(), id.clone(), text.clone());
            std::thread::spawn(move || server.send_message(&id, &text))
        };
        // Probe with GetChat of an unknown chat: a read that misses the read cache, so it queues
        // for the database, and that WAL lets through despite our lock, so a probe never waits
        // itself. It is refused once the first writer holds the place in the queue.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut probe = None;
        while probe.is_none() && Instant::now() < deadline && !first.is_finished() {
            let res = server.get(&format!("/api/v2/chats/{UNKNOWN_CHAT}"));
            probe = (res.status == 503).then_some(res);
        }
        match probe {
            Some(refused) => {
                scene = Some((first, text, refused));
                break;
            }
            None => first.join().unwrap().assert_error(503, 4),
        }
    }
    let (first, text, refused) = scene.expect("a writer waiting inside the emulator");
    refused.assert_error(503, 4);
    assert!(refused.json()["statusMessage"].as_str().unwrap().contains("busy"));
    server.send_message(&id, "finds the queue full").assert_error(503, 4);

    conn.execute_batch("COMMIT").unwrap();
    let res = first.join().unwrap();
    assert_eq!(res.status, 200, "the waiting request completes: {}", res.text());
    let texts = texts(&server.transcript_from(&id, 0), "Text");
    assert_eq!(texts, [text], "refused requests changed nothing");
}
