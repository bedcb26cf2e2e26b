//! Moving the emulator's time (`clock` table, `chats.clock_offset`): freezing it, and advancing
//! it for every chat or for one, running the work that falls due on the way before answering.

use rusqlite::params;

use super::jobs::run_until;
use super::{Result, Store, StoreError};
use crate::clock::{wall_ms, ClockView};
use crate::domain::ChatId;

/// What a clock change did.
#[derive(Debug, Clone, Copy)]
pub struct Advanced {
    /// The emulator's time after it (for one chat: the chat's time).
    pub now: i64,
    /// The pieces of work that ran.
    pub ran: usize,
}

impl Store {
    /// Freezes or unfreezes the clock (`freeze`), then moves it forward by `advance_ms`, running
    /// every piece of work that falls due on the way, in due order; answers once all of it is
    /// committed.
    pub async fn set_clock(
        &self,
        freeze: Option<bool>,
        advance_ms: Option<i64>,
    ) -> Result<(ClockView, usize)> {
        let (clock, centre) = (self.clock().clone(), self.centre().clone());
        self.write(move |tx| {
            let wall = wall_ms();
            let mut state = clock.state();
            if let Some(freeze) = freeze {
                state = state.frozen(freeze, wall);
            }
            let mut ran = 0;
            if let Some(ms) = advance_ms {
                tx.set_now(state.now_at(wall));
                ran = run_until(tx, &centre, state.now_at(wall) + ms, None)?;
                state = state.advanced(ms);
            }
            tx.conn().execute(
                "UPDATE clock SET offset_ms = ?1, frozen_at = ?2 WHERE id = 1",
                params![state.offset_ms, state.frozen_at],
            )?;
            // The writer thread is the only one that changes the clock: from here on every
            // write reads the new time.
            clock.set(state);
            Ok((clock.view(), ran))
        })
        .await
    }

    /// Moves chat `id`'s own time forward by `ms`: its pending work falls due accordingly and
    /// runs, in due order, before the answer. Other chats are not touched.
    pub async fn advance_chat(&self, id: &ChatId, ms: i64) -> Result<Advanced> {
        let (centre, id) = (self.centre().clone(), id.clone());
        self.write(move |tx| {
            let start = tx.now();
            let (rowid, offset) = {
                let chat = tx.chat(&id)?;
                (chat.rowid, chat.now() - start)
            };
            let ran = run_until(tx, &centre, start + ms, Some(rowid))?;
            tx.set_now(start);
            // From now on the chat is `ms` further ahead; its work keeps its chat time.
            tx.conn()
                .prepare_cached("UPDATE chats SET clock_offset = clock_offset + ?2 WHERE rowid = ?1")?
                .execute(params![rowid, ms])?;
            tx.conn()
                .prepare_cached(
                    "UPDATE jobs SET due_at = due_at - ?2 WHERE chat_rowid = ?1 AND due_at IS NOT NULL",
                )?
                .execute(params![rowid, ms])?;
            Ok(Advanced { now: start + offset + ms, ran })
        })
        .await
        .map_err(|e| match e {
            StoreError::ChatNotFound(id) => StoreError::ChatNotFound(id),
            e => e,
        })
    }
}
