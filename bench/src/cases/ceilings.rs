//! The ceilings the emulator is compared with: the cheapest HTTP answer, the cheapest durable
//! write.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};

use gws_emulator::store::now_ms;

use crate::db;
use crate::gws;
use crate::runner::Bench;
use crate::seed::chat_uuid;
use crate::stats::Stats;

/// A trivial actix-web server (see `serve`), sent the very requests of empty-poll, so only the
/// server differs.
pub fn http(b: &mut Bench, case: &str) -> Result<(), String> {
    let server = b.spawn_ceiling("ceiling")?;
    let host = server.host();
    let requests =
        (1..=b.sizes.small_chats).map(|r| gws::transcript(&host, &chat_uuid(r))).collect();
    b.closed_loop(case, server, requests, "");
    Ok(())
}

/// Raw rusqlite, one small INSERT per transaction, as fast as one thread can.
pub fn storage(b: &mut Bench, case: &str) -> Result<(), String> {
    let path = b.tmp_path(case, ".db");
    let mut stats = storage_ceiling(&path, b.opts.warmup, b.opts.duration)
        .map_err(|e| format!("SQLite: {e}"))?;
    db::remove(&path);
    let note = "single thread; BEGIN IMMEDIATE, INSERT, COMMIT; WAL, synchronous NORMAL, foreign_keys ON, busy_timeout 10 s";
    b.report.load_row(case, "tx/s", &mut stats, b.opts.duration, note.into());
    Ok(())
}

/// One small INSERT per `BEGIN IMMEDIATE` transaction, as fast as one thread can, on a
/// connection opened and configured exactly as the emulator's.
fn storage_ceiling(path: &Path, warmup: Duration, duration: Duration) -> rusqlite::Result<Stats> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let mut conn = Connection::open_with_flags(path, flags)?;
    // The emulator's configure() and open_pool().
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
    conn.set_prepared_statement_cache_capacity(64);
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    assert!(mode.eq_ignore_ascii_case("wal"), "SQLite refused WAL mode ({mode})");
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS appends (
             chat_rowid INTEGER NOT NULL,
             idx        INTEGER NOT NULL,
             text       TEXT,
             utc_time   INTEGER NOT NULL,
             PRIMARY KEY (chat_rowid, idx)
         ) WITHOUT ROWID;",
    )?;
    let mut stats = Stats::default();
    let measure = Instant::now() + warmup;
    let end = measure + duration;
    let mut i: i64 = 0;
    loop {
        let start = Instant::now();
        if start >= end {
            break;
        }
        i += 1;
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO appends (chat_rowid, idx, text, utc_time) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![i % 1000, i, "Is my order on its way?", now_ms()])?;
            tx.commit()
        })();
        let done = Instant::now();
        match result {
            Ok(()) if start >= measure && done <= end => stats.record(done - start),
            Ok(()) => {}
            Err(e) => stats.error(format!("SQLite: {e}")),
        }
    }
    Ok(stats)
}
