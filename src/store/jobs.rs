//! The contact centre's pending work: rows of `jobs` with a due time (in the emulator's time).
//! The scheduler asks whether anything is due (an index probe on `due_at`, so the cost follows
//! the work due, not the number of chats) and runs the due jobs in one writer operation, each in
//! its own savepoint, which also deletes or reschedules it: a job runs exactly once, and work
//! that fell due while the emulator was down runs when it starts.

use rusqlite::{params, OptionalExtension};

use super::writes::{ChatTx, WriteTx};
use super::{Result, Store};
use crate::contact_centre::{run_job, ContactCentre};
use crate::domain::JobKind;

/// A row of `jobs`.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub chat_rowid: i64,
    pub kind: JobKind,
    /// BotTyping and BotReply: the index of the customer message answered.
    pub reply_to: Option<i64>,
    /// Scenario work: the step (from 1).
    pub step: Option<i64>,
}

impl Store {
    /// Whether any job is due at `now` (a read on a pooled connection).
    pub fn work_due(&self, now: i64) -> Result<bool> {
        let conn = self.conn()?;
        let due = conn
            .prepare_cached("SELECT 1 FROM jobs WHERE due_at <= ?1 LIMIT 1")?
            .query_row([now], |_| Ok(()))
            .optional()?;
        Ok(due.is_some())
    }

    /// Runs up to `limit` jobs due at `now`, oldest due first, in one writer operation (it shares
    /// the writer's group commit); returns how many ran. Blocks until they committed: call it
    /// off the async threads.
    pub fn run_due(&self, now: i64, limit: i64) -> Result<usize> {
        let centre = self.centre().clone();
        self.submit(move |tx| run_due_in(tx, &centre, now, limit))
            .blocking_recv()
            .unwrap_or(Err(super::StoreError::Unavailable))
    }
}

/// Runs the work due up to `target` (the emulator's time; for one chat only when `chat` is
/// given) in due order, each piece at its due time (never before `tx.now()`: time does not go
/// back), so that what it writes carries the time it would have had on a real clock. Work
/// scheduled meanwhile and due by `target` runs too; recurring work runs at most once (it
/// reschedules itself past `target`). A piece that fails is rolled back alone and logged, and is
/// not tried again in this advance. Returns how many pieces ran; `tx.now()` is `target` after.
pub(super) fn run_until(
    tx: &WriteTx,
    centre: &ContactCentre,
    target: i64,
    chat: Option<i64>,
) -> Result<usize> {
    let start = tx.now();
    let mut after = (i64::MIN, i64::MIN);
    let mut ran = 0;
    tx.set_horizon(Some(target));
    loop {
        #[allow(clippy::type_complexity)]
        let next: Option<(i64, i64, i64, String, Option<i64>, Option<i64>)> = tx
            .conn()
            .prepare_cached(
                "SELECT due_at, id, chat_rowid, kind, reply_to, step FROM jobs
                 WHERE due_at <= ?1 AND (due_at, id) > (?2, ?3) AND (?4 IS NULL OR chat_rowid = ?4)
                 ORDER BY due_at, id LIMIT 1",
            )?
            .query_row(params![target, after.0, after.1, chat], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .optional()?;
        let Some((due, id, chat_rowid, kind, reply_to, step)) = next else { break };
        after = (due, id);
        tx.set_now(due.max(start));
        let Some(kind) = JobKind::parse(&kind) else {
            log::warn!("dropping job {id} of unknown kind {kind}");
            tx.conn().prepare_cached("DELETE FROM jobs WHERE id = ?1")?.execute([id])?;
            continue;
        };
        let job = Job { id, chat_rowid, kind, reply_to, step };
        match tx.attempt(|| run_job(centre, tx, &job)) {
            Ok(()) => ran += 1,
            Err(e) => log::error!("clock advance: job {id} ({}) failed: {e}", kind.as_str()),
        }
    }
    tx.set_horizon(None);
    tx.set_now(target.max(start));
    Ok(ran)
}

/// Runs the due jobs inside `tx`; a job that fails is rolled back alone, logged, and stays due
/// (it is tried again at the next pass).
fn run_due_in(tx: &WriteTx, centre: &ContactCentre, now: i64, limit: i64) -> Result<usize> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(i64, i64, String, Option<i64>, Option<i64>)> = tx
        .conn()
        .prepare_cached(
            "SELECT id, chat_rowid, kind, reply_to, step FROM jobs WHERE due_at <= ?1
             ORDER BY due_at, id LIMIT ?2",
        )?
        .query_map(params![now, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut ran = 0;
    for (id, chat_rowid, kind, reply_to, step) in rows {
        let Some(kind) = JobKind::parse(&kind) else {
            log::warn!("dropping job {id} of unknown kind {kind}");
            tx.conn().prepare_cached("DELETE FROM jobs WHERE id = ?1")?.execute([id])?;
            continue;
        };
        let job = Job { id, chat_rowid, kind, reply_to, step };
        match tx.attempt(|| run_job(centre, tx, &job)) {
            Ok(()) => ran += 1,
            Err(e) => {
                log::error!("scheduler: job {id} ({}) failed, will retry: {e}", kind.as_str())
            }
        }
    }
    Ok(ran)
}

impl ChatTx<'_> {
    /// Adds pending work for this chat, due at chat time `due` (`None`: when an agent joins).
    pub fn schedule(&self, kind: JobKind, due: Option<i64>, reply_to: Option<i64>) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO jobs (chat_rowid, kind, due_at, reply_to) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                self.rowid,
                kind.as_str(),
                due.map(|t| self.to_global(t)),
                reply_to
            ])?;
        Ok(())
    }

    /// Adds a scenario's work for step `step` (from 1), due at chat time `due` (`None`: when
    /// the customer writes).
    pub fn schedule_step(&self, kind: JobKind, due: Option<i64>, step: usize) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO jobs (chat_rowid, kind, due_at, step) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                self.rowid,
                kind.as_str(),
                due.map(|t| self.to_global(t)),
                step as i64
            ])?;
        Ok(())
    }

    /// The waitFor this chat's scenario is at: (job id, step), if any.
    pub fn scenario_waiting(&self) -> Result<Option<(i64, usize)>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id, step FROM jobs WHERE chat_rowid = ?1 AND kind = ?2 ORDER BY id LIMIT 1",
            )?
            .query_row(params![self.rowid, JobKind::ScenarioWait.as_str()], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as usize))
            })
            .optional()?)
    }

    /// Whether this chat has pending work of `kind`.
    pub fn has_work(&self, kind: JobKind) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM jobs WHERE chat_rowid = ?1 AND kind = ?2 LIMIT 1")?
            .query_row(params![self.rowid, kind.as_str()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The latest due time (chat time) of this chat's work of `kind`.
    pub fn latest_due(&self, kind: JobKind) -> Result<Option<i64>> {
        let due: Option<i64> = self
            .conn()
            .prepare_cached("SELECT max(due_at) FROM jobs WHERE chat_rowid = ?1 AND kind = ?2")?
            .query_row(params![self.rowid, kind.as_str()], |r| r.get(0))?;
        Ok(due.map(|t| self.to_chat(t)))
    }

    /// The bot replies waiting for an agent: (job id, customer message index), oldest first.
    pub fn waiting_replies(&self) -> Result<Vec<(i64, i64)>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id, reply_to FROM jobs
                 WHERE chat_rowid = ?1 AND kind = ?2 AND due_at IS NULL ORDER BY reply_to",
            )?
            .query_map(params![self.rowid, JobKind::BotReply.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Moves job `id` to chat time `due` (`None`: until an agent joins).
    pub fn reschedule(&self, id: i64, due: Option<i64>) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE jobs SET due_at = ?2 WHERE id = ?1")?
            .execute(params![id, due.map(|t| self.to_global(t))])?;
        Ok(())
    }

    /// Puts every job of `kind` on hold until an agent joins.
    pub fn unschedule(&self, kind: JobKind) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE jobs SET due_at = NULL WHERE chat_rowid = ?1 AND kind = ?2")?
            .execute(params![self.rowid, kind.as_str()])?;
        Ok(())
    }

    pub fn cancel_job(&self, id: i64) -> Result<()> {
        self.conn().prepare_cached("DELETE FROM jobs WHERE id = ?1")?.execute([id])?;
        Ok(())
    }

    /// Cancels this chat's work of the given kinds.
    pub fn cancel_jobs(&self, kinds: &[JobKind]) -> Result<()> {
        let mut stmt =
            self.conn().prepare_cached("DELETE FROM jobs WHERE chat_rowid = ?1 AND kind = ?2")?;
        for kind in kinds {
            stmt.execute(params![self.rowid, kind.as_str()])?;
        }
        Ok(())
    }

    /// Cancels all of this chat's pending work.
    pub fn cancel_all_work(&self) -> Result<()> {
        self.conn()
            .prepare_cached("DELETE FROM jobs WHERE chat_rowid = ?1")?
            .execute([self.rowid])?;
        Ok(())
    }
}
