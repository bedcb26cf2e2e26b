//! The scheduler: the cost of a tick with nothing due, and how late due work is done.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{params, TransactionBehavior};

use gws_emulator::scheduler::{self, StopFlag};
use gws_emulator::store::{now_ms, Store, StoreOptions};

use crate::db;
use crate::report::{join_notes, Row};
use crate::runner::Bench;
use crate::seed::DbKind;
use crate::stats::{pct, Stats};

/// `scheduler::run_due` in this process, on the tick database (every job far in the future):
/// the time of a pass that finds nothing due. Latencies in nanoseconds.
pub fn tick(b: &mut Bench, case: &str) -> Result<(), String> {
    let cached = b.cached_db(DbKind::Tick)?;
    let db = b.copy_db(&cached, case)?;
    let store = Store::open(&db, StoreOptions::default()).map_err(|e| e.0)?;
    let stop = StopFlag::default();
    let mut stats = Stats::default();
    let mut ran_jobs = 0;
    let warm_until = Instant::now() + b.opts.warmup.min(Duration::from_millis(500));
    while Instant::now() < warm_until {
        let _ = scheduler::run_due(&store, &stop);
    }
    let end = Instant::now() + b.opts.duration;
    let mut ticks = 0u64;
    while Instant::now() < end && ticks < 1_000_000 {
        let t = Instant::now();
        let result = scheduler::run_due(&store, &stop);
        // Nanoseconds, not µs: a tick is far below a millisecond.
        let took = t.elapsed().as_nanos().min(u32::MAX as u128) as u32;
        ticks += 1;
        match result {
            Ok(0) => stats.lat_us.push(took),
            Ok(n) => {
                ran_jobs += n;
                stats.error("a job was due (the seeded jobs must be far in the future)");
            }
            Err(e) => stats.error(format!("run_due: {e}")),
        }
    }
    drop(store);
    db::remove(&db);
    // lat_us holds nanoseconds here.
    let s = stats.summary();
    let us = |ns: f64| format!("{:.1} µs", ns / 1000.0);
    b.report.set_metric("scheduler-tick.mean_us", s.mean / 1000.0);
    b.report.set_metric("scheduler-tick.p99_us", s.p99 / 1000.0);
    let errors = stats.error_count();
    let mut note =
        format!("{} open chats; mean {} per tick; {ticks} ticks", b.sizes.tick_chats, us(s.mean));
    if errors > 0 {
        note = join_notes(&note, &format!("errors: {} ({ran_jobs} jobs ran)", stats.error_text()));
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

/// The emulator in bot mode on the late database: the agents' joins fall due over
/// `late_spread`, each followed by the bot's answer to the waiting question. How late each came.
pub fn lateness(b: &mut Bench, case: &str) -> Result<(), String> {
    let cached = b.cached_db(DbKind::Late)?;
    let db = b.copy_db(&cached, case)?;
    let n = b.sizes.late_chats;
    let spread = b.sizes.late_spread.as_millis() as i64;
    let reply_delay = 100;
    let server = b.spawn_emulator(
        case,
        &db,
        &[
            "--agent-mode",
            "bot",
            "--reply-delay",
            "100ms",
            "--bot-typing",
            "false",
            "--system-message-interval",
            "0",
            "--idle-timeout",
            "0",
        ],
    )?;
    // Now that it runs, the joins fall due over the next `spread` ms, starting in 300 ms.
    let mut conn = db::open_plain(&db)?;
    let due: HashMap<i64, i64> = {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| e.to_string())?;
        let t0 = now_ms() + 300;
        tx.execute(
            "UPDATE jobs SET due_at = ?1 + ((chat_rowid - 1) * ?2) / ?3 WHERE kind = 'agent_join'",
            params![t0, spread, n as i64],
        )
        .map_err(|e| e.to_string())?;
        let due = tx
            .prepare("SELECT chat_rowid, due_at FROM jobs WHERE kind = 'agent_join'")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()
            })
            .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        due
    };
    // Wait for every reply (or give up after a generous while).
    let expected_done = Instant::now() + Duration::from_millis((300 + spread + reply_delay) as u64);
    let give_up = expected_done + Duration::from_secs(if b.opts.quick { 10 } else { 30 });
    thread::sleep(expected_done.saturating_duration_since(Instant::now()));
    loop {
        let replies: i64 = conn
            .query_row(
                "SELECT count(*) FROM messages WHERE participant_id = 3 AND type = 'Text'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| e.to_string())?;
        if replies as usize >= n || Instant::now() >= give_up {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let log = server.stop();
    let mut joined: HashMap<i64, i64> = HashMap::new();
    let mut replied: HashMap<i64, i64> = HashMap::new();
    {
        let mut stmt = conn
            .prepare("SELECT chat_rowid, type, utc_time FROM messages WHERE participant_id = 3")
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })
            .map_err(|e| e.to_string())?;
        for row in rows {
            let (chat, kind, at) = row.map_err(|e| e.to_string())?;
            match kind.as_str() {
                "ParticipantJoined" => joined.insert(chat, at),
                "Text" => replied.insert(chat, at),
                _ => None,
            };
        }
    }
    drop(conn);
    db::remove(&db);
    let mut join_late = Vec::new();
    let mut reply_late = Vec::new();
    let (mut missing_join, mut missing_reply) = (0u64, 0u64);
    for (chat, due_at) in &due {
        match joined.get(chat) {
            Some(at) => {
                join_late.push(at - due_at);
                match replied.get(chat) {
                    Some(r) => reply_late.push(r - (at + reply_delay)),
                    None => missing_reply += 1,
                }
            }
            None => {
                missing_join += 1;
                missing_reply += 1;
            }
        }
    }
    // How fast the scheduler got through the work: from the first join due to the last reply.
    let first_due = due.values().min().copied().unwrap_or(0);
    let last_done = replied.values().chain(joined.values()).max().copied().unwrap_or(first_due);
    let jobs = joined.len() + replied.len();
    let span_ms = (last_done - first_due).max(1);
    let rate_note = format!(
        "{jobs} jobs done in {span_ms} ms from the first due: {:.0} jobs/s (work arrived at {:.0}/s)",
        jobs as f64 * 1000.0 / span_ms as f64,
        2.0 * n as f64 * 1000.0 / spread.max(1) as f64
    );
    let server_note = join_notes(&rate_note, &log.note().unwrap_or_default());
    for (what, mut late, missing) in
        [("join", join_late, missing_join), ("reply", reply_late, missing_reply)]
    {
        late.sort_unstable();
        let (p50, p99, max) = (pct(&late, 0.5), pct(&late, 0.99), late.last().copied());
        if let Some(p99) = p99 {
            b.report.set_metric(&format!("lateness.{what}.p99_ms"), p99 as f64);
        }
        let show = |v: Option<i64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
        let mut errors = missing;
        if what == "join" {
            errors += log.errors as u64;
        }
        let mut note = if what == "join" {
            format!("{n} chats, joins due over {spread} ms; lateness = ParticipantJoined utcTime - due time")
        } else {
            format!("reply delay {reply_delay} ms; lateness = reply utcTime - (join + {reply_delay} ms)")
        };
        if missing > 0 {
            note = join_notes(&note, &format!("{missing} chats without a {what}"));
        }
        if what == "join" {
            note = join_notes(&note, &server_note);
        }
        b.report.row(Row {
            case: format!("{case} {what}"),
            rate: format!("{} done", late.len()),
            p50: show(p50),
            p99: show(p99),
            max: show(max),
            errors,
            note,
        });
    }
    Ok(())
}
