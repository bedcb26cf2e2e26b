//! The simulated contact centre's clock: an interval task on the actix runtime that runs the
//! jobs that are due (agent joins, system messages, bot typing and replies, inactivity closes).
//! The work itself lives in SQLite (`jobs`), so a restart loses nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tokio::time::{interval, MissedTickBehavior};

use crate::store::{now_ms, Store};

/// Jobs handled per pass; a full batch means more may be due, so the next pass starts at once.
const BATCH: i64 = 256;

/// Stops the scheduler: no job starts after `stop()` returns (one already running finishes).
#[derive(Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn spawn(store: Store, tick: Duration, stop: StopFlag) {
    actix_web::rt::spawn(async move {
        let mut ticks = interval(tick);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
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
        }
    });
}

/// Runs the jobs due now (up to one batch) in one writer operation; returns how many ran. When
/// nothing is due, a read finds out without bothering the writer.
pub fn run_due(store: &Store, stop: &StopFlag) -> crate::store::Result<usize> {
    let now = now_ms();
    if stop.is_stopped() || !store.work_due(now)? {
        return Ok(0);
    }
    store.run_due(now, BATCH)
}
