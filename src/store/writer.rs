//! The single writer: one thread owns the database's only write connection and runs every write
//! operation. It drains whatever operations are queued into ONE transaction (group commit), each
//! inside its own savepoint so a refused operation rolls back alone, and answers each operation
//! only after the transaction committed: acknowledged still means durable, but many writes share
//! one commit, and writers never contend for SQLite's lock (no busy waits, no sleeps).

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::cache::ReadCache;
use super::writes::{Effects, WriteTx};
use super::{Result, StoreError};
use crate::clock::Clock;
use crate::events::Hub;

/// Most operations committed together.
const MAX_BATCH: usize = 512;

/// One queued write: runs on the writer's connection, answers after the commit.
trait WriteOp: Send {
    /// Runs the operation; false if it failed (its savepoint is then rolled back).
    fn run(&mut self, tx: &WriteTx) -> bool;
    /// Sends the result: the operation's own, or why it was not committed (`None`: there is
    /// no database right now, after a failed reopen).
    fn finish(self: Box<Self>, commit: std::result::Result<(), Option<&rusqlite::Error>>);
}

struct Op<T, F> {
    f: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> WriteOp for Op<T, F>
where
    T: Send,
    F: FnOnce(&WriteTx) -> Result<T> + Send,
{
    fn run(&mut self, tx: &WriteTx) -> bool {
        let f = self.f.take().expect("an operation runs once");
        let result = f(tx);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: std::result::Result<(), Option<&rusqlite::Error>>) {
        let result = match commit {
            // No result: the operation panicked (and was rolled back).
            Ok(()) => self.result.unwrap_or(Err(StoreError::Panicked)),
            // A refused operation changed nothing either way: keep its own answer.
            Err(_) if matches!(self.result, Some(Err(_))) => {
                self.result.unwrap_or(Err(StoreError::Panicked))
            }
            Err(Some(e)) => Err(StoreError::Db(clone_error(e))),
            Err(None) => Err(StoreError::Unavailable),
        };
        let _ = self.reply.send(result);
    }
}

fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e.sqlite_error() {
        Some(err) => rusqlite::Error::SqliteFailure(*err, Some(e.to_string())),
        None => rusqlite::Error::InvalidQuery,
    }
}

enum Message {
    Op(Box<dyn WriteOp>),
    /// Runs on the writer thread with exclusive use of its connection (e.g. to reopen it).
    Exclusive(ExclusiveTask),
    /// Copies the whole write-ahead log into the database and resets it; then says whether it
    /// could.
    Checkpoint(WalReset, mpsc::Sender<bool>),
}

/// Work that needs the writer's connection to itself (it may replace it).
type ExclusiveTask = Box<dyn FnOnce(&mut Option<Connection>) + Send>;

/// The sending side, held by the store.
#[derive(Clone)]
pub(super) struct Writer {
    tx: Sender<Message>,
}

impl Writer {
    /// Starts the writer thread on `conn`; after each commit it drops what it touched from the
    /// read cache and publishes what it wrote.
    pub(super) fn start(conn: Connection, shared: Shared) -> Writer {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("gws-writer".into())
            .spawn(move || run(Some(conn), rx, &shared))
            .expect("start the writer thread");
        Writer { tx }
    }

    /// Queues `f`; the receiver answers after the transaction holding it committed.
    pub(super) fn submit<T, F>(&self, f: F) -> oneshot::Receiver<Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let op = Op { f: Some(f), result: None, reply };
        // If the writer is gone the receiver reports it (the sender is dropped).
        let _ = self.tx.send(Message::Op(Box::new(op)));
        rx
    }

    pub(super) fn exclusive(&self, f: impl FnOnce(&mut Option<Connection>) + Send + 'static) {
        let _ = self.tx.send(Message::Exclusive(Box::new(f)));
    }

    /// Asks for the write-ahead log to be checkpointed and reset between two transactions; the
    /// receiver is told when it is done.
    pub(super) fn reset_wal(&self, how: WalReset) -> mpsc::Receiver<bool> {
        let (done, wait) = mpsc::channel();
        let _ = self.tx.send(Message::Checkpoint(how, done));
        wait
    }
}

/// What the writer keeps in step with its commits, and the clock every write reads.
pub(super) struct Shared {
    pub cache: Arc<ReadCache>,
    pub clock: Arc<Clock>,
    pub hub: Arc<Hub>,
}

fn run(mut conn: Option<Connection>, rx: Receiver<Message>, shared: &Shared) {
    let mut batch: Vec<Box<dyn WriteOp>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        loop {
            match next.take() {
                Some(Message::Op(op)) => batch.push(op),
                Some(Message::Exclusive(f)) => {
                    commit_batch(conn.as_ref(), &mut batch, shared);
                    f(&mut conn);
                    shared.cache.invalidate(&Effects { all: true, ..Effects::default() });
                }
                Some(Message::Checkpoint(how, done)) => {
                    commit_batch(conn.as_ref(), &mut batch, shared);
                    let reset = conn.as_ref().is_some_and(|c| reset_wal(c, how));
                    let _ = done.send(reset);
                }
                None => break,
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        commit_batch(conn.as_ref(), &mut batch, shared);
    }
}

/// How the write-ahead log is reset once it is copied into the database.
#[derive(Debug, Clone, Copy)]
pub(super) enum WalReset {
    /// The next transaction writes from the start of the file again; the file keeps its size
    /// (cheap: no blocks are given back while writes go on).
    Restart,
    /// The file is cut to nothing (for when writes have stopped, and at a clean stop).
    Truncate,
}

/// `wal_checkpoint(RESTART | TRUNCATE)`: waits (busy timeout) for readers still on the log,
/// copies what the passive checkpoints left into the database, and resets the log. Passive
/// checkpoints alone never catch up while readers and the writer stay busy.
fn reset_wal(conn: &Connection, how: WalReset) -> bool {
    let sql = match how {
        WalReset::Restart => "PRAGMA wal_checkpoint(RESTART)",
        WalReset::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    let result = conn.query_row(sql, [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)));
    match result {
        Ok((0, _)) => true,
        Ok((_, frames)) => {
            log::debug!("the log ({frames} frames) could not be reset: busy");
            false
        }
        Err(e) => {
            log::debug!("checkpoint of the write-ahead log failed: {e}");
            false
        }
    }
}

/// Runs the queued operations in one transaction, each in a savepoint, commits, and answers.
fn commit_batch(conn: Option<&Connection>, batch: &mut Vec<Box<dyn WriteOp>>, shared: &Shared) {
    if batch.is_empty() {
        return;
    }
    let Some(conn) = conn else {
        for op in batch.drain(..) {
            op.finish(Err(None));
        }
        return;
    };
    let mut effects = Effects::default();
    let outcome = (|| -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        for op in batch.iter_mut() {
            conn.execute_batch("SAVEPOINT op")?;
            let tx = WriteTx::new(conn, &shared.hub, shared.clock.now());
            // A panicking operation fails alone (its answer: unavailable); the writer lives on.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op.run(&tx)));
            if ran.unwrap_or(false) {
                conn.execute_batch("RELEASE op")?;
                effects.merge(tx.into_effects());
            } else {
                conn.execute_batch("ROLLBACK TO op; RELEASE op")?;
            }
        }
        conn.execute_batch("COMMIT")
    })();
    if let Err(e) = &outcome {
        log::error!("a write transaction of {} operations failed: {e}", batch.len());
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    // Before anyone is answered: a client that got its acknowledgement reads its own write. (A
    // failed commit changed nothing; dropping entries anyway costs only a refill.)
    shared.cache.invalidate(&effects);
    let commit = outcome.as_ref().map(|_| ()).map_err(Some);
    for op in batch.drain(..) {
        op.finish(commit);
    }
    // After the answers, which wait for nothing else: waking watchers takes time and they have
    // no acknowledgement to keep in step with (the cache above does).
    if outcome.is_ok() {
        shared.hub.publish(effects.events);
        if effects.all {
            shared.hub.forget_all();
        } else if !effects.deleted.is_empty() {
            shared.hub.forget(&effects.deleted);
        }
    }
}
