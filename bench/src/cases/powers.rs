//! The test powers and the long-lived service: a whole chat life on a frozen clock, how fast a
//! wait and an event stream hear of a write, many event streams under load, the journal's cost,
//! a retention pass under load, and the scheduler's tick with scenario chats waiting.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use gws_emulator::contact_centre::{ContactCentre, Scenario, Scenarios};
use gws_emulator::scheduler::{self, StopFlag};
use gws_emulator::store::{NewChat, Store, StoreOptions};

use super::MANUAL;
use crate::client::{self, probe};
use crate::db;
use crate::gws;
use crate::load;
use crate::procs::{mib, proc_memory};
use crate::report::{join_notes, Row};
use crate::runner::Bench;
use crate::seed::DbKind;
use crate::stats::Stats;

fn ms(d: f64) -> String {
    format!("{d:.2} ms")
}

/// A blocking request on its own connection; its body as JSON (2xx only).
fn call(addr: SocketAddr, req: &[u8]) -> Result<Value, String> {
    let (status, body) = probe(addr, req).map_err(|e| e.to_string())?;
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}: {}", body.chars().take(200).collect::<String>()));
    }
    serde_json::from_str(&body).map_err(|e| format!("not JSON ({e}): {body}"))
}

fn advance(addr: SocketAddr, host: &str, by: &str) -> Result<u64, String> {
    let body = json!({ "advance": by }).to_string();
    let answer = call(addr, &client::post(host, "/__admin/clock", &body))?;
    Ok(answer["ran"].as_u64().unwrap_or(0))
}

/// 1 000 chats through their whole life with a frozen clock: RequestChat, the agent's join
/// (advance 5 s), three questions each answered by the bot (advance 2 s after each), and the
/// 30-minute inactivity close (advance 30 m). On a real clock this takes over half an hour.
pub fn lifecycle(b: &mut Bench, case: &str) -> Result<(), String> {
    let n = b.sizes.lifecycle_chats;
    let db = b.tmp_path(case, ".db");
    let server = b.spawn_emulator(
        case,
        &db,
        &[
            "--clock",
            "frozen",
            "--agent-join-delay",
            "1s..4s",
            "--reply-delay",
            "0s..2s",
            "--system-message-interval",
            "20s",
            "--idle-timeout",
            "30m",
        ],
    )?;
    let (addr, host) = (server.addr, server.host());
    let conns = b.opts.connections;
    let started = Instant::now();
    let answers = load::run_each(addr, (0..n).map(|_| gws::request_chat(&host)).collect(), conns)?;
    let ids: Vec<String> = answers
        .iter()
        .map(|a| {
            serde_json::from_slice::<Value>(a)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_string))
        })
        .collect::<Option<_>>()
        .ok_or("RequestChat gave no id")?;
    let mut ran = advance(addr, &host, "5s")?;
    for _ in 0..3 {
        load::run_each(addr, ids.iter().map(|id| gws::send_message(&host, id)).collect(), conns)?;
        ran += advance(addr, &host, "2s")?;
    }
    ran += advance(addr, &host, "30m")?;
    let wall = started.elapsed();
    // Every chat went through it all.
    let health = call(addr, &client::get(&host, "/__admin/health"))?;
    let idle = health["chats"]["Idle"].as_u64().unwrap_or(0);
    let one = call(addr, &client::get(&host, &format!("/__admin/chats/{}", ids[n / 2])))?;
    let replies = one["chat"]["messages"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["type"] == "Text" && m["from"]["type"] == "Agent").count())
        .unwrap_or(0);
    let log = server.stop();
    db::remove(&db);
    let mut errors = log.errors as u64;
    let mut note = format!(
        "{n} chats: join, 3 questions answered by the bot, the 30-minute close; {ran} pieces of \
         work ran in the advances; {} requests",
        n * 4 + 5
    );
    if idle as usize != n || replies != 3 {
        errors += 1;
        note = join_notes(&note, &format!("WRONG: {idle} chats ended, {replies} replies in one"));
    }
    b.report.set_metric("lifecycle.s", wall.as_secs_f64());
    b.report.row(Row {
        case: case.into(),
        rate: format!("{:.2} s wall", wall.as_secs_f64()),
        p50: "-".into(),
        p99: "-".into(),
        max: "-".into(),
        errors,
        note: join_notes(&note, &log.note().unwrap_or_default()),
    });
    Ok(())
}

/// How long after a message is acknowledged a long poll waiting for it (`wait`) answers, and
/// its Server-Sent Event arrives: one message at a time, from the agent side.
pub fn wait_latency(b: &mut Bench, case: &str) -> Result<(), String> {
    let db = b.tmp_path(case, ".db");
    let server = b.spawn_emulator(case, &db, MANUAL)?;
    let (addr, host) = (server.addr, server.host());
    let body = r#"{"operationName":"RequestChat","nickname":"Ada"}"#;
    let id = call(addr, &client::post(&host, "/api/v2/chats", body))?["id"]
        .as_str()
        .ok_or("no chat id")?
        .to_string();
    let agent = format!("/__admin/chats/{id}/agent");
    call(addr, &client::post(&host, &agent, r#"{"action":"join","nickname":"Kate"}"#))?;
    // The event stream: a reader thread notes when each message's event arrives.
    let events: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let mut sse = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    sse.write_all(
        format!("GET /__admin/chats/{id}/events HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let reader = {
        let events = events.clone();
        let prefix = format!("id: {id}:");
        let stream = sse.try_clone().map_err(|e| e.to_string())?;
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if let Some(index) = line.strip_prefix(&prefix).and_then(|i| i.trim().parse().ok())
                {
                    events.lock().unwrap().push((index, Instant::now()));
                }
            }
        })
    };
    let mut waits = Stats::default();
    let mut acks = Stats::default();
    let mut sent_at: Vec<(i64, Instant)> = Vec::new();
    thread::sleep(Duration::from_millis(100));
    // Messages 1-3 are the two joins of RequestChat and the agent's join.
    for next in (4..).take(b.sizes.wait_rounds) {
        let waiting = {
            let req =
                client::get(&host, &format!("/__admin/chats/{id}/messages?index={next}&wait=10s"));
            thread::spawn(move || (probe(addr, &req), Instant::now()))
        };
        // The long poll is held by then (it subscribes before its first read).
        thread::sleep(Duration::from_millis(15));
        let sent = Instant::now();
        call(addr, &client::post(&host, &agent, r#"{"action":"message","text":"Hello"}"#))?;
        acks.record(sent.elapsed());
        let (answer, answered) = waiting.join().map_err(|_| "the waiting thread panicked")?;
        match answer {
            Ok((200, body)) if body.contains(&format!("\"index\":{next}")) => {
                waits.record(answered.saturating_duration_since(sent));
            }
            Ok((status, body)) => {
                waits.error(format!("HTTP {status} {}", body.chars().take(80).collect::<String>()))
            }
            Err(e) => waits.error(e.to_string()),
        }
        sent_at.push((next, sent));
    }
    thread::sleep(Duration::from_millis(200));
    let log = server.stop();
    let _ = sse.shutdown(std::net::Shutdown::Both);
    let _ = reader.join();
    db::remove(&db);
    let mut sse_stats = Stats::default();
    {
        let events = events.lock().unwrap();
        for (index, sent) in &sent_at {
            match events.iter().find(|(i, _)| i == index) {
                Some((_, at)) => sse_stats.record(at.saturating_duration_since(*sent)),
                None => sse_stats.error(format!("no event for message {index}")),
            }
        }
    }
    let ack = acks.summary();
    for (name, stats) in [("wait", &mut waits), ("sse", &mut sse_stats)] {
        let s = stats.summary();
        b.report.set_metric(&format!("wait-latency.{name}.p99_ms"), s.p99 / 1000.0);
        let errors = stats.error_count();
        let what = if name == "wait" { "a waiting GET answered" } else { "its event arrived" };
        let mut note = format!(
            "{} agent messages one at a time: from sending the write until {what} (the write \
             alone: p50 {}, p99 {})",
            s.count,
            ms(ack.p50 / 1000.0),
            ms(ack.p99 / 1000.0)
        );
        if errors > 0 {
            note = join_notes(&note, &format!("errors: {}", stats.error_text()));
        }
        b.report.row(Row {
            case: format!("{case} {name}"),
            rate: format!("{} done", s.count),
            p50: ms(s.p50 / 1000.0),
            p99: ms(s.p99 / 1000.0),
            max: ms(s.max / 1000.0),
            errors: errors + if name == "wait" { log.errors as u64 } else { 0 },
            note,
        });
    }
    Ok(())
}

/// send-many with no event stream open, then with `watchers` streams open on as many chats
/// (which the load also writes to), on the same emulator; its RSS with them.
pub fn watchers(b: &mut Bench, case: &str) -> Result<(), String> {
    let cached = b.cached_db(DbKind::Small)?;
    let db = b.copy_db(&cached, case)?;
    let chats = db::read_chats(&db)?;
    let server = b.spawn_emulator(case, &db, MANUAL)?;
    let (addr, host) = (server.addr, server.host());
    let requests: Vec<Vec<u8>> = chats.ids.iter().map(|id| gws::send_message(&host, id)).collect();
    let run = |b: &Bench| {
        let conns = load::spread(requests.clone(), b.opts.connections);
        load::run_closed(addr, conns, b.opts.warmup, b.opts.duration)
    };
    let mut without = run(b);
    let rss_before = proc_memory(server.pid()).map(|(rss, _)| mib(rss));
    let watched = b.sizes.watchers.min(chats.ids.len());
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let open = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|t| {
            let mine: Vec<String> =
                chats.ids[..watched].iter().skip(t).step_by(2).cloned().collect();
            let (stop, received, open, host) =
                (stop.clone(), received.clone(), open.clone(), host.clone());
            thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let tasks: Vec<_> = mine
                        .into_iter()
                        .map(|id| {
                            let (stop, received, open, host) =
                                (stop.clone(), received.clone(), open.clone(), host.clone());
                            actix_web::rt::spawn(async move {
                                watch(addr, &host, &id, &stop, &received, &open).await
                            })
                        })
                        .collect();
                    for t in tasks {
                        let _ = t.await;
                    }
                })
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while open.load(Ordering::SeqCst) < watched as u64 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let opened = open.load(Ordering::SeqCst);
    let rss_with = proc_memory(server.pid()).map(|(rss, _)| mib(rss));
    let mut with = run(b);
    let rss_after = proc_memory(server.pid()).map(|(rss, hwm)| (mib(rss), mib(hwm)));
    stop.store(true, Ordering::SeqCst);
    let log = server.stop();
    for r in readers {
        let _ = r.join();
    }
    db::remove(&db);
    if opened < watched as u64 {
        with.error(format!("only {opened} of {watched} streams opened"));
    }
    let show = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.1} MiB"));
    b.report.load_row(
        &format!("{case} off"),
        "req/s",
        &mut without,
        b.opts.duration,
        format!("send-many over {} chats, no event stream open", chats.ids.len()),
    );
    let note = format!(
        "send-many with {opened} event streams open on {watched} of the chats; {} events received; \
         RSS {} before the streams, {} with them, {} after the load (peak {})",
        received.load(Ordering::SeqCst),
        show(rss_before),
        show(rss_with),
        show(rss_after.map(|r| r.0)),
        show(rss_after.map(|r| r.1)),
    );
    b.report.load_row(
        &format!("{case} on"),
        "req/s",
        &mut with,
        b.opts.duration,
        join_notes(&note, &log.note().unwrap_or_default()),
    );
    let (off, on) =
        (b.report.metric(&format!("{case} off")), b.report.metric(&format!("{case} on")));
    if let (Some(off), Some(on)) = (off, on) {
        b.report.set_metric("watchers.ratio", on / off);
    }
    if let Some(rss) = rss_with {
        b.report.set_metric("watchers.rss_mib", rss);
    }
    Ok(())
}

/// One event stream, read and thrown away until `stop` (or the server closes it).
async fn watch(
    addr: SocketAddr,
    host: &str,
    id: &str,
    stop: &AtomicBool,
    received: &AtomicU64,
    open: &AtomicU64,
) {
    let Ok(stream) = actix_web::rt::net::TcpStream::connect(addr).await else { return };
    let req = format!("GET /__admin/chats/{id}/events HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut sent = 0;
    while sent < req.len() {
        if stream.writable().await.is_err() {
            return;
        }
        match stream.try_write(&req.as_bytes()[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
    }
    open.fetch_add(1, Ordering::SeqCst);
    let mut buf = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::Relaxed) {
        if stream.readable().await.is_err() {
            return;
        }
        match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                let events = buf[..n].windows(7).filter(|w| w == b"event: ").count();
                received.fetch_add(events as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
    }
}

/// empty-poll with the request journal off and on (its default size), in the same run: two
/// emulators side by side, measured in turn, off, on, off, on, so that the machine's drift
/// during the case weighs on both alike.
pub fn journal(b: &mut Bench, case: &str) -> Result<(), String> {
    let cached = b.cached_db(DbKind::Small)?;
    let mut sides = Vec::new();
    for (label, size) in [("off", "0"), ("on", "10000")] {
        let db = b.copy_db(&cached, case)?;
        let chats = db::read_chats(&db)?;
        let mut args = MANUAL.to_vec();
        args.extend(["--journal-size", size]);
        let name = format!("{case} {label}");
        let server = b.spawn_emulator(&name, &db, &args)?;
        let host = server.host();
        let requests: Vec<Vec<u8>> =
            chats.ids.iter().map(|id| gws::transcript(&host, id)).collect();
        let probe = client::probe(server.addr, &requests[0]);
        let mut stats = Stats::default();
        if !matches!(&probe, Ok((200, body)) if body.contains("\"statusCode\":0")) {
            stats.error(format!("probe: {probe:?}"));
        }
        sides.push((name, size, db, server, requests, stats));
    }
    for _round in 0..2 {
        for (_, _, _, server, requests, stats) in sides.iter_mut() {
            let conns = load::spread(requests.clone(), b.opts.connections);
            stats.merge(load::run_closed(server.addr, conns, b.opts.warmup, b.opts.duration));
        }
    }
    for (name, size, db, server, _, mut stats) in sides {
        let log = server.stop();
        if log.errors > 0 {
            stats.errors.insert("server logged errors".into(), log.errors as u64);
        }
        let note = format!("empty-poll, --journal-size {size}; two turns of each, alternated");
        let note = join_notes(&note, &log.note().unwrap_or_default());
        b.report.load_row(&name, "req/s", &mut stats, b.opts.duration * 2, note);
        db::remove(&db);
    }
    if let Some(r) = b.report.ratio(&format!("{case} on"), &format!("{case} off")) {
        b.report.set_metric("journal.ratio", r);
    }
    Ok(())
}

/// Polls (GetTranscript, nothing new) on the open chats while retention deletes the ended
/// ones, started by moving the clock past `--retention`: their latency, and how long the
/// deletion took.
pub fn retention(b: &mut Bench, case: &str) -> Result<(), String> {
    let cached = b.cached_db(DbKind::Ended)?;
    let db = b.copy_db(&cached, case)?;
    let chats = db::read_chats(&db)?;
    let ended = b.sizes.ended_chats;
    let mut args = MANUAL.to_vec();
    args.extend(["--clock", "frozen", "--retention", "1h"]);
    let server = b.spawn_emulator(case, &db, &args)?;
    let (addr, host) = (server.addr, server.host());
    let requests: Vec<Vec<u8>> =
        chats.ids[ended..].iter().map(|id| gws::transcript(&host, id)).collect();
    let conns = load::spread(requests, b.opts.connections);
    // The polls last long enough for the whole deletion to happen under them.
    let least = Duration::from_secs(if b.opts.quick { 3 } else { 10 });
    let (warmup, duration) = (b.opts.warmup, b.opts.duration.max(least));
    let polls = thread::spawn(move || load::run_closed(addr, conns, warmup, duration));
    thread::sleep(warmup);
    let started = Instant::now();
    advance(addr, &host, "2h")?;
    let mut deleted_in = None;
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        let health = call(addr, &client::get(&host, "/__admin/health"))?;
        if health["chats"]["Idle"].as_u64() == Some(0) {
            deleted_in = Some(started.elapsed());
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let mut stats = polls.join().map_err(|_| "the load panicked")?;
    let log = server.stop();
    db::remove(&db);
    let note = match deleted_in {
        Some(d) => format!(
            "polls on {} open chats while retention deleted {ended} ended chats in {:.1} s",
            chats.ids.len() - ended,
            d.as_secs_f64()
        ),
        None => {
            stats.error(format!("the {ended} ended chats were not all deleted within the run"));
            format!("polls on {} open chats; retention did not finish", chats.ids.len() - ended)
        }
    };
    let s = stats.summary();
    b.report.set_metric("retention.p99_ms", s.p99 / 1000.0);
    b.report.load_row(
        case,
        "req/s",
        &mut stats,
        duration,
        join_notes(&note, &log.note().unwrap_or_default()),
    );
    Ok(())
}

/// The scheduler's pass with nothing due while `scenario_chats` chats wait in a waitFor step
/// of their scenario (in this process, like scheduler-tick).
pub fn scenario_tick(b: &mut Bench, case: &str) -> Result<(), String> {
    let db = b.tmp_path(case, ".db");
    let scenarios = Arc::new(Scenarios::built_in());
    let doc = json!({"name": "waits", "steps": [
        {"join": "Kate"},
        {"say": "Your order number?"},
        {"waitFor": "customerMessage", "match": "(?i)order\\s*#?\\d+", "timeout": "1d"},
        {"say": "Thanks"},
        {"waitFor": "customerMessage", "timeout": "1d", "onTimeout": "complete"}
    ]});
    let waits = Arc::new(Scenario::parse(&doc, None)?);
    let centre = ContactCentre::new(&gws_emulator::config::Config::default(), scenarios);
    let store =
        Store::open(&db, StoreOptions { centre: Arc::new(centre), ..StoreOptions::default() })
            .map_err(|e| e.to_string())?;
    let n = b.sizes.scenario_chats;
    actix_web::rt::System::new().block_on(async {
        for i in 0..n {
            let new = NewChat {
                nickname: format!("Customer {i}"),
                subject: "Benchmark".into(),
                user_data: None,
                endpoint: None,
            };
            let id = store.request_chat(new, waits.clone()).await.map_err(|e| e.to_string())?;
            // Half of them past the first waitFor, at the second.
            if i % 2 == 0 {
                let action = gws_emulator::store::CustomerAction::SendMessage("order #42".into());
                store.customer_action(&id, action).await.map_err(|e| e.to_string())?;
            }
        }
        Ok::<(), String>(())
    })?;
    let stop = StopFlag::default();
    let mut stats = Stats::default();
    let warm_until = Instant::now() + b.opts.warmup.min(Duration::from_millis(500));
    while Instant::now() < warm_until {
        let _ = scheduler::run_due(&store, &stop);
    }
    let end = Instant::now() + b.opts.duration;
    let mut ticks = 0u64;
    while Instant::now() < end && ticks < 1_000_000 {
        let t = Instant::now();
        let result = scheduler::run_due(&store, &stop);
        let took = t.elapsed().as_nanos().min(u32::MAX as u128) as u32;
        ticks += 1;
        match result {
            Ok(0) => stats.lat_us.push(took),
            Ok(_) => stats.error("work was due (the waits are a day away)"),
            Err(e) => stats.error(format!("run_due: {e}")),
        }
    }
    drop(store);
    db::remove(&db);
    let s = stats.summary();
    let us = |ns: f64| format!("{:.1} µs", ns / 1000.0);
    b.report.set_metric("scenario-tick.p99_us", s.p99 / 1000.0);
    let errors = stats.error_count();
    let mut note = format!(
        "{n} chats waiting in a waitFor of their scenario (half at the second one); {ticks} ticks"
    );
    if errors > 0 {
        note = join_notes(&note, &format!("errors: {}", stats.error_text()));
    }
    b.report.row(Row {
        case: case.into(),
        rate: format!("{:.0} ticks/s", ticks as f64 / b.opts.duration.as_secs_f64()),
        p50: us(s.p50),
        p99: us(s.p99),
        max: us(s.max),
        errors,
        note,
    });
    Ok(())
}
