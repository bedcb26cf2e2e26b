//! SQLite persistence. One file a responsibility:
//!
//! - `schema.rs`: opening the file, pragmas, migrations, one-line errors.
//! - `writer.rs`: the single writer thread with group commit.
//! - `writes.rs`: the write transaction (`WriteTx`) and what can be written to a chat (`ChatTx`).
//! - `operations.rs`: the customer's and the agent's operations.
//! - `cursors.rs`: read cursors and the transcript reads that move them.
//! - `jobs.rs`: the contact centre's pending work.
//! - `clock.rs`: moving the emulator's time, and running what falls due on the way.
//! - `retention.rs`: deleting ended chats after `--retention`.
//! - `journal.rs`: the request journal's table.
//! - `reads.rs`, `views.rs`: the reads and the JSON shapes they return.
//! - `cache.rs`: what the hottest reads need, in memory, kept in step by the writer.
//!
//! Every write goes through the writer, which commits the queued writes together in one
//! transaction: message indexes and read cursors are assigned race-free, writers never contend
//! for SQLite's lock, and an operation is acknowledged only after its transaction committed to
//! the WAL (durable against a process crash). Reads use a pool of connections.

mod cache;
mod clock;
mod cursors;
mod jobs;
mod journal;
mod operations;
mod reads;
mod retention;
mod schema;
mod views;
mod writer;
mod writes;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

pub use jobs::Job;
pub use journal::RequestFilter;
pub use operations::{AgentAction, CustomerAction};
pub use schema::{ClockStart, OpenError, MIGRATIONS};
pub use views::{
    ChatDetail, ChatSummary, ChatView, ChatsByState, Counts, MessageView, ParticipantDetail,
    ParticipantView, PendingWork,
};
pub use writes::{ChatTx, NewChat, WriteTx, CUSTOMER_ID, SYSTEM_ID};

use cache::ReadCache;
use writer::{Shared, WalReset, Writer};

use crate::clock::Clock;
use crate::contact_centre::ContactCentre;
use crate::domain::ChatId;
use crate::events::Hub;

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// A write-ahead log larger than this is truncated by the writer (bytes).
const WAL_LIMIT: i64 = 16 << 20;

/// What went wrong in a store operation; the API maps each to a GWS error (`api/error.rs`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("chat {0} not found")]
    ChatNotFound(ChatId),
    /// The operation is not in the chat's capabilities (or the agent action not possible now).
    #[error("{0}")]
    NotAllowed(String),
    /// More than `max_pending` requests already wait for the database.
    #[error("{0} requests already wait for the database")]
    Busy(usize),
    /// The database could not be reopened after it was deleted; retried every second.
    #[error("the database is unavailable")]
    Unavailable,
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("database pool error: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("a database task failed: {0}")]
    Task(String),
    /// The operation panicked (a bug); its writes were rolled back.
    #[error("the operation failed unexpectedly")]
    Panicked,
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What the store is opened with besides its file.
pub struct StoreOptions {
    /// Runs the contact centre's side of every chat.
    pub centre: Arc<ContactCentre>,
    /// Requests that may wait for the database at once; more get `StoreError::Busy`.
    pub max_pending: usize,
    /// How the clock starts.
    pub clock: ClockStart,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            centre: Arc::new(ContactCentre::default()),
            max_pending: 1024,
            clock: ClockStart::default(),
        }
    }
}

/// The database. Cheap to clone (one shared inner). If `chat.db` is deleted or replaced while the
/// emulator runs, `reopen_if_gone` starts over on a fresh file; every operation holds a read guard
/// on the pool for its whole duration, so a reopen waits for work in flight and none straddles two
/// files.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// None only while a reopen failed; operations then fail until the next try succeeds.
    pool: RwLock<Option<Pool>>,
    /// The (device, inode) of the file the pool has open.
    file: Mutex<Option<(u64, u64)>>,
    /// The one thread that writes (see `writer.rs`).
    writer: Writer,
    /// What the hottest reads need, kept in step by the writer (see `cache.rs`).
    cache: Arc<ReadCache>,
    centre: Arc<ContactCentre>,
    /// The emulator's time (kept in SQLite; changed by the writer only).
    clock: Arc<Clock>,
    clock_start: ClockStart,
    /// Where the writer publishes what it committed.
    hub: Arc<Hub>,
    max_pending: usize,
    /// Requests waiting for (or using) the database right now.
    pending: AtomicUsize,
}

/// A pooled connection that keeps the pool's read guard until it is dropped.
pub(crate) struct Conn<'a> {
    // Declared first: the connection goes back to the pool before the guard is released.
    conn: r2d2::PooledConnection<SqliteConnectionManager>,
    _guard: RwLockReadGuard<'a, Option<Pool>>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path, options: StoreOptions) -> std::result::Result<Store, OpenError> {
        let opened = schema::open_pool(path, options.clock)?;
        let cache = Arc::new(ReadCache::default());
        let clock = Arc::new(Clock::new(opened.clock));
        let hub = Arc::new(Hub::default());
        let shared = Shared { cache: cache.clone(), clock: clock.clone(), hub: hub.clone() };
        let writer = Writer::start(schema::open_writer(path)?, shared);
        let file = file_id(path);
        let store = Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                pool: RwLock::new(Some(opened.pool)),
                file: Mutex::new(file),
                writer,
                cache,
                centre: options.centre,
                clock,
                clock_start: options.clock,
                hub,
                max_pending: options.max_pending,
                pending: AtomicUsize::new(0),
            }),
        };
        start_checkpointer(Arc::downgrade(&store.inner));
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn centre(&self) -> &Arc<ContactCentre> {
        &self.inner.centre
    }

    /// The emulator's time.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.inner.clock
    }

    /// What the writer committed, as it commits it.
    pub fn events(&self) -> &Arc<Hub> {
        &self.inner.hub
    }

    fn cache(&self) -> &ReadCache {
        &self.inner.cache
    }

    /// Runs `f` on the writer's connection, inside a transaction shared with the other writes
    /// queued meanwhile; answers once that transaction committed. Counts as a request waiting
    /// for the database (`StoreError::Busy` past the limit).
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx) -> Result<T> + Send + 'static,
    {
        let _queued = self.enter_queue()?;
        self.submit(f).await.unwrap_or(Err(StoreError::Unavailable))
    }

    /// Runs `f` on the blocking thread pool (reads use pooled connections), counted like `write`.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
    {
        let _queued = self.enter_queue()?;
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
    }

    /// Runs `f` as one writer operation and waits for its commit: for tools that fill a database
    /// in bulk through the emulator's own writes (the benchmark's seeding). Blocks: call it off
    /// the async threads.
    pub fn transact<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx) -> Result<T> + Send + 'static,
    {
        self.submit(f).blocking_recv().unwrap_or(Err(StoreError::Unavailable))
    }

    /// Queues `f` for the writer, outside the request count (the scheduler's own work); the
    /// receiver answers after the commit.
    pub(crate) fn submit<T, F>(&self, f: F) -> tokio::sync::oneshot::Receiver<Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx) -> Result<T> + Send + 'static,
    {
        self.inner.writer.submit(f)
    }

    /// Counts a request as waiting for the database until the guard drops; `Busy` past the limit.
    fn enter_queue(&self) -> Result<PendingGuard<'_>> {
        let waiting = self.inner.pending.fetch_add(1, Ordering::SeqCst);
        let guard = PendingGuard(&self.inner.pending);
        if waiting >= self.inner.max_pending {
            return Err(StoreError::Busy(waiting));
        }
        Ok(guard)
    }

    pub(crate) fn conn(&self) -> Result<Conn<'_>> {
        let guard = self.inner.pool.read().unwrap_or_else(|p| p.into_inner());
        let pool = guard.as_ref().ok_or(StoreError::Unavailable)?;
        let conn = pool.get()?;
        Ok(Conn { conn, _guard: guard })
    }

    /// Copies the write-ahead log into the database and truncates it (at a clean stop), so the
    /// `-wal` file left beside `chat.db` is empty. Blocks: call it off the async threads.
    pub fn checkpoint(&self) {
        // Another checkpoint (the checkpointer's passive one) may be running: try a few times.
        for _ in 0..50 {
            match self.inner.writer.reset_wal(WalReset::Truncate).recv() {
                Ok(true) | Err(_) => return,
                Ok(false) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        log::warn!("the write-ahead log could not be truncated at stop: it is busy");
    }

    /// Starts over on a fresh database when the file was deleted (or replaced) under us, instead
    /// of writing into a file nobody can see. Returns whether it did. Blocks: call it off the
    /// async threads.
    pub fn reopen_if_gone(&self) -> std::result::Result<bool, OpenError> {
        let current = file_id(&self.inner.path);
        let opened = *self.inner.file.lock().unwrap_or_else(|p| p.into_inner());
        if current.is_some() && current == opened {
            return Ok(false);
        }
        // The writer does it between two transactions, so no write straddles two files.
        let inner = self.inner.clone();
        let (done, wait) = std::sync::mpsc::channel();
        self.inner.writer.exclusive(move |writer_conn| {
            // Waits for every read in flight; none starts until the new pool is in.
            let mut slot = inner.pool.write().unwrap_or_else(|p| p.into_inner());
            // Close every connection to the old file first, so its WAL is checkpointed and
            // removed and can never be paired with the new file.
            *writer_conn = None;
            drop(slot.take());
            if opened.is_some() {
                log::warn!(
                    "{} was deleted or replaced while running; starting over on a fresh database",
                    inner.path.display()
                );
            }
            let result = schema::open_pool(&inner.path, inner.clock_start)
                .and_then(|opened| Ok((opened, schema::open_writer(&inner.path)?)));
            let _ = done.send(result.map(|(opened, conn)| {
                inner.clock.set(opened.clock);
                *slot = Some(opened.pool);
                *writer_conn = Some(conn);
                *inner.file.lock().unwrap_or_else(|p| p.into_inner()) = file_id(&inner.path);
                true
            }));
        });
        wait.recv().unwrap_or(Ok(false))
    }
}

struct PendingGuard<'a>(&'a AtomicUsize);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Milliseconds since the Unix epoch on the wall clock (the emulator's time is `Store::clock`).
pub use crate::clock::wall_ms as now_ms;

/// Copies the WAL back into the database every `CHECKPOINT_EVERY`, from a reader connection and
/// without blocking the writer (PASSIVE), so commits never pay for a checkpoint. When the log
/// still holds more than `WAL_LIMIT` (readers and the writer kept it from being reset), asks the
/// writer to restart it between two transactions: later commits overwrite the file from its start,
/// so under load it grows no further. Giving the file's blocks back (truncating it) takes the
/// writer several milliseconds, so it waits until the writes have slowed down: a file over
/// `WAL_LIMIT` is truncated once a round finds less than a quarter of that in the log. Ends with
/// the store.
fn start_checkpointer(inner: std::sync::Weak<Inner>) {
    let Some(path) = inner.upgrade().map(|i| i.path.clone()) else { return };
    let mut wal = path.into_os_string();
    wal.push("-wal");
    let _ = std::thread::Builder::new().name("gws-checkpoint".into()).spawn(move || {
        loop {
            std::thread::sleep(CHECKPOINT_EVERY);
            let Some(inner) = inner.upgrade() else { return };
            let store = Store { inner };
            let checkpoint = store.conn().and_then(|conn| {
                let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
                let frames: i64 =
                    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?;
                Ok((frames, page + 24))
            });
            let (frames, frame_size) = match checkpoint {
                Ok(log) => log,
                Err(e) => {
                    log::debug!("checkpoint: {e}");
                    continue;
                }
            };
            let file = std::fs::metadata(&wal).map_or(0, |m| m.len() as i64);
            let log = frames * frame_size;
            let how = if log > WAL_LIMIT {
                Some(WalReset::Restart)
            } else if file > WAL_LIMIT && log < WAL_LIMIT / 4 {
                Some(WalReset::Truncate)
            } else {
                None
            };
            if let Some(how) = how {
                // Waits for it, so that requests do not pile up.
                let _ = store.inner.writer.reset_wal(how).recv();
            }
        }
    });
}

/// The (device, inode) of a file, to notice when it is deleted or replaced.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}
