//! Read cursors: how far each reader (the customer, the agent side) has received the transcript.
//! GetTranscript without `index` takes what is unread and moves the cursor past it in the same
//! write transaction, so two polls never receive the same message and none is skipped; with
//! `index` it reads from there and moves the cursor forward only. Cursors live in SQLite
//! (`read_cursors`), so they survive restarts.

use rusqlite::params;

use super::reads::read_messages;
use super::views::MessageView;
use super::writes::ChatTx;
use super::{Result, Store, StoreError};
use crate::domain::{ChatId, Reader};

impl Store {
    /// GetTranscript without `index`: the messages `reader` has not received (at most `page`
    /// when given), moving its cursor past them. The common poll finds nothing new: the read
    /// cache usually knows without a database trip; otherwise a read finds out (and fills it),
    /// and only a poll with something to take goes through the writer.
    pub async fn poll(
        &self,
        id: &ChatId,
        reader: Reader,
        page: Option<i64>,
    ) -> Result<Vec<MessageView>> {
        let unread = match self.cache().with(id, |e| e.cursors[reader as usize] < e.last_index) {
            Some(unread) => unread,
            None => {
                let id = id.clone();
                self.read(move |store| {
                    let entry = store.snapshot(&id)?;
                    Ok(entry.cursors[reader as usize] < entry.last_index)
                })
                .await?
            }
        };
        if !unread {
            return Ok(Vec::new());
        }
        let id = id.clone();
        self.write(move |tx| {
            let chat = tx.chat(&id)?;
            let after = chat.read_cursor(reader)?;
            let messages = read_messages(chat.conn(), chat.rowid, after, page)?;
            if let Some(last) = messages.last() {
                chat.move_cursor(reader, last.index)?;
            }
            Ok(messages)
        })
        .await
    }

    /// GetTranscript with `index = from`: the messages with index >= max(from, 1) (at most
    /// `page` when given), a read; `reader`'s cursor moves forward to the last of them if it was
    /// behind (never backwards).
    pub async fn transcript_from(
        &self,
        id: &ChatId,
        reader: Reader,
        from: i64,
        page: Option<i64>,
    ) -> Result<Vec<MessageView>> {
        if self.cache().with(id, |e| from.max(1) > e.last_index) == Some(true) {
            return Ok(Vec::new());
        }
        let read_id = id.clone();
        let (messages, behind) = self
            .read(move |store| {
                let mut conn = store.conn()?;
                let tx = conn.transaction()?;
                let (rowid, cursor): (i64, Option<i64>) = tx
                    .prepare_cached(
                        "SELECT c.rowid, r.last_read_index FROM chats c
                         LEFT JOIN read_cursors r ON r.chat_rowid = c.rowid AND r.reader = ?2
                         WHERE c.id = ?1",
                    )?
                    .query_row(params![read_id.as_str(), reader.as_str()], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => {
                            StoreError::ChatNotFound(read_id.clone())
                        }
                        e => e.into(),
                    })?;
                let messages = read_messages(&tx, rowid, from.max(1) - 1, page)?;
                let behind = messages.last().is_some_and(|m| cursor.unwrap_or(0) < m.index);
                Ok((messages, behind))
            })
            .await?;
        if let (true, Some(last)) = (behind, messages.last()) {
            let (id, to) = (id.clone(), last.index);
            self.write(move |tx| tx.chat(&id)?.move_cursor(reader, to)).await?;
        }
        Ok(messages)
    }
}

impl ChatTx<'_> {
    /// Moves `reader`'s cursor forward to `to` (never backwards).
    pub fn move_cursor(&self, reader: Reader, to: i64) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO read_cursors (chat_rowid, reader, last_read_index) VALUES (?1, ?2, ?3)
                 ON CONFLICT (chat_rowid, reader)
                 DO UPDATE SET last_read_index = max(last_read_index, excluded.last_read_index)",
            )?
            .execute(params![self.rowid, reader.as_str(), to])?;
        Ok(())
    }
}
