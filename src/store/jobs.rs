//! The contact centre's pending work: rows of `jobs` with a due time (in the emulator's time).
//! The scheduler asks whether anything is due (an index probe on `due_at`, so the cost follows
//! the work due, not the number of chats) and runs the due jobs in one writer operation, each in
//! its own savepoint, which also deletes or reschedules it: a job runs exactly once, and work
//! that fell due while the emulator was down runs when it starts.

use rusqlite::{params, OptionalExtension};

use super::writes::{ChatTx, WriteTx};
use super::{Result, Store};
use crate::contact_centre::run_job;
use crate::domain::JobKind;

/// A row of `jobs`.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub chat_rowid: i64,
    pub kind: JobKind,
    /// BotTyping and BotReply: the index of the customer message answered.
    pub reply_to: Option<i64>,
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

/// Runs the due jobs inside `tx`; a job that fails is rolled back alone, logged, and stays due
/// (it is tried again at the next pass).
fn run_due_in(
    tx: &WriteTx,
    centre: &crate::contact_centre::ContactCentre,
    now: i64,
    limit: i64,
) -> Result<usize> {
    let rows: Vec<(i64, i64, String, Option<i64>)> = tx
        .conn()
        .prepare_cached(
            "SELECT id, chat_rowid, kind, reply_to FROM jobs WHERE due_at <= ?1
             ORDER BY due_at, id LIMIT ?2",
        )?
        .query_map(params![now, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut ran = 0;
    for (id, chat_rowid, kind, reply_to) in rows {
        let Some(kind) = JobKind::parse(&kind) else {
            log::warn!("dropping job {id} of unknown kind {kind}");
            tx.conn().prepare_cached("DELETE FROM jobs WHERE id = ?1")?.execute([id])?;
            continue;
        };
        let job = Job { id, chat_rowid, kind, reply_to };
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
    /// Adds pending work for this chat, due at `due` (`None`: when an agent joins).
    pub fn schedule(&self, kind: JobKind, due: Option<i64>, reply_to: Option<i64>) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO jobs (chat_rowid, kind, due_at, reply_to) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![self.rowid, kind.as_str(), due, reply_to])?;
        Ok(())
    }

    /// The latest due time of this chat's work of `kind`.
    pub fn latest_due(&self, kind: JobKind) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT max(due_at) FROM jobs WHERE chat_rowid = ?1 AND kind = ?2")?
            .query_row(params![self.rowid, kind.as_str()], |r| r.get(0))?)
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

    /// Moves job `id` to `due` (`None`: until an agent joins).
    pub fn reschedule(&self, id: i64, due: Option<i64>) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE jobs SET due_at = ?2 WHERE id = ?1")?
            .execute(params![id, due])?;
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
