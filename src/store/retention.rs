//! Retention: ended chats are deleted, with their messages, participants, cursors and pending
//! work (`ON DELETE CASCADE`), some time after they ended, in small batches run by the scheduler
//! (one writer operation each, so no request waits behind a big delete); the pages they freed go
//! back to the file system (incremental auto-vacuum), so the file does not grow over weeks.

use rusqlite::params;

use super::{Result, Store};

/// Chats looked at per batch.
const CHATS_PER_BATCH: i64 = 256;
/// Messages deleted per batch, at most (a batch holds at least one chat, however long).
const MESSAGES_PER_BATCH: i64 = 20_000;
/// Free pages given back to the file system per batch.
const PAGES_PER_BATCH: i64 = 4096;

impl Store {
    /// Deletes one batch of the chats that ended at or before `ended_before` (the emulator's
    /// time); returns how many. Blocks: call it off the async threads.
    pub fn expire_ended_chats(&self, ended_before: i64) -> Result<usize> {
        self.submit(move |tx| {
            let candidates: Vec<(i64, i64)> = tx
                .conn()
                .prepare_cached(
                    "SELECT rowid, last_index FROM chats
                     WHERE ended_at IS NOT NULL AND ended_at <= ?1 AND state = 'Idle'
                     ORDER BY ended_at LIMIT ?2",
                )?
                .query_map(params![ended_before, CHATS_PER_BATCH], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut messages = 0;
            let mut deleted = 0;
            for (rowid, last_index) in candidates {
                if deleted > 0 && messages + last_index > MESSAGES_PER_BATCH {
                    break;
                }
                tx.delete_chat(rowid)?;
                messages += last_index;
                deleted += 1;
            }
            if deleted > 0 {
                // The pragma frees one page per step (a row each): step it through.
                let mut vacuum = tx
                    .conn()
                    .prepare_cached(&format!("PRAGMA incremental_vacuum({PAGES_PER_BATCH})"))?;
                let mut pages = vacuum.query([])?;
                while pages.next()?.is_some() {}
            }
            Ok(deleted)
        })
        .blocking_recv()
        .unwrap_or(Err(super::StoreError::Unavailable))
    }
}
