//! The background task that makes the contact centre act: an interval on the actix runtime that
//! runs the work that is due (agent joins, system messages, bot typing and replies, scenario
//! steps, inactivity closes) and, about once a second, deletes a batch of chats whose retention
//! ran out. The work itself lives in SQLite (`jobs`), so a restart loses nothing.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use tokio::time::{interval, MissedTickBehavior};

use crate::clock::wall_ms;
use crate::store::Store;

/// Jobs handled per pass; a full batch means more may be due, so the next pass starts at once.
const BATCH: i64 = 256;
/// How often retention looks for ended chats to delete.
const RETENTION_EVERY: Duration = Duration::from_secs(1);

/// Stops the scheduler and tells whether it runs: no job starts after `stop()` returns (one
/// already running finishes).
#[derive(Clone, Default)]
pub struct StopFlag(Arc<Flags>);

#[derive(Default)]
struct Flags {
    stopped: AtomicBool,
    /// Wall-clock time of the last pass (0: none yet).
    last_pass: AtomicI64,
}

impl StopFlag {
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Whether the scheduler made a pass within `within` (the health answer's readiness).
    pub fn is_running(&self, within: Duration) -> bool {
        let last = self.0.last_pass.load(Ordering::Relaxed);
        !self.is_stopped() && last > 0 && wall_ms() - last <= within.as_millis() as i64
    }
}

/// What the scheduler does besides due work.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub tick: Duration,
    /// Ended chats are deleted this long after they ended (`None`: kept).
    pub retention: Option<Duration>,
}

pub fn spawn(store: Store, settings: Settings, stop: StopFlag) {
    stop.0.last_pass.store(wall_ms(), Ordering::Relaxed);
    actix_web::rt::spawn(async move {
        let mut ticks = interval(settings.tick);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut next_retention = Instant::now();
        loop {
            ticks.tick().await;
            if stop.is_stopped() {
                log::info!("scheduler stopped");
                return;
            }
            loop {
                let (store, stop) = (store.clone(), stop.clone());
                match web::block(move || run_due(&store, &stop)).await {
                    Ok(Ok(ran)) if ran as i64 == BATCH => continue,
                    Ok(Ok(_)) => break,
                    Ok(Err(e)) => {
                        log::error!("scheduler: {e}");
                        break;
                    }
                    Err(e) => {
                        log::error!("scheduler task failed: {e}");
                        break;
                    }
                }
            }
            stop.0.last_pass.store(wall_ms(), Ordering::Relaxed);
            if let Some(keep) = settings.retention {
                if Instant::now() >= next_retention {
                    next_retention = Instant::now() + RETENTION_EVERY;
                    let store = store.clone();
                    match web::block(move || expire(&store, keep)).await {
                        Ok(Ok(0)) => {}
                        Ok(Ok(n)) => log::info!("retention: deleted {n} ended chats"),
                        Ok(Err(e)) => log::error!("retention: {e}"),
                        Err(e) => log::error!("retention task failed: {e}"),
                    }
                }
            }
        }
    });
}

/// Runs the jobs due now (up to one batch) in one writer operation; returns how many ran. When
/// nothing is due, a read finds out without bothering the writer.
pub fn run_due(store: &Store, stop: &StopFlag) -> crate::store::Result<usize> {
    let now = store.clock().now();
    if stop.is_stopped() || !store.work_due(now)? {
        return Ok(0);
    }
    store.run_due(now, BATCH)
}

/// Deletes the chats that ended more than `keep` ago, a batch at a time (each its own writer
/// operation, so requests are served in between); returns how many.
pub fn expire(store: &Store, keep: Duration) -> crate::store::Result<usize> {
    let before = store.clock().now() - keep.as_millis() as i64;
    let mut total = 0;
    loop {
        let n = store.expire_ended_chats(before)?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
    }
}
