//! The simulated contact centre's clock: an interval task on the actix runtime that runs the
//! jobs that are due (agent joins, system messages, bot typing and replies, inactivity closes).
//! The work itself lives in SQLite (`jobs`), so a restart loses nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tokio::time::{interval, MissedTickBehavior};

use crate::sim::Sim;
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

pub fn spawn(store: Store, sim: Arc<Sim>, tick: Duration, stop: StopFlag) {
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
                let (store, sim, stop) = (store.clone(), sim.clone(), stop.clone());
                match web::block(move || run_due(&store, &sim, &stop)).await {
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

/// Runs every job due now (up to one batch), all queued to the writer together so they share its
/// transactions; returns how many ran.
pub fn run_due(store: &Store, sim: &Arc<Sim>, stop: &StopFlag) -> crate::store::Result<usize> {
    let now = now_ms();
    let due = store.due_jobs(now, BATCH)?;
    if due.is_empty() || stop.is_stopped() {
        return Ok(0);
    }
    let mut ran = 0;
    for (id, result) in due.iter().zip(store.run_jobs(&due, now, sim)) {
        match result {
            Ok(()) => ran += 1,
            Err(e) => log::error!("scheduler: job {id} failed, will retry: {e}"),
        }
    }
    Ok(ran)
}
