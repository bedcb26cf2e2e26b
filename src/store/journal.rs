//! The request journal's table (`requests`): writing the queued entries in one batch, keeping at
//! most the journal's size, reading them back newest first.

use rusqlite::params;

use super::writes::WriteTx;
use super::{Result, Store};
use crate::journal::{Entry, Journal};

/// What `GET /__admin/requests` may filter on.
#[derive(Debug, Default, Clone)]
pub struct RequestFilter {
    pub chat: Option<String>,
    pub operation: Option<String>,
    pub http_status: Option<u16>,
    pub limit: i64,
}

impl Store {
    /// Writes what the journal has queued and drops the rows past its size; returns how many
    /// were written. The entries go in chunks, each its own writer operation, so that requests
    /// queued meanwhile commit between two chunks instead of waiting for the whole batch. One
    /// flush at a time: the rows keep the order the requests came in.
    pub async fn flush_journal(&self, journal: &Journal) -> Result<usize> {
        let _one_at_a_time = journal.flushing().lock().await;
        let mut recorded = journal.take();
        let keep = journal.size() as i64;
        let mut written = 0;
        while !recorded.is_empty() {
            let rest = recorded.split_off(recorded.len().min(JOURNAL_CHUNK));
            let entries: Vec<Entry> = recorded.iter().map(|r| r.entry()).collect();
            if let Err(e) = self.write(move |tx| insert_requests(tx, &entries, keep)).await {
                // Not written (busy, or the database is being recreated): back in the queue,
                // before what came meanwhile, for the next write.
                recorded.extend(rest);
                journal.put_back(recorded);
                return Err(e);
            }
            written += recorded.len();
            recorded = rest;
        }
        Ok(written)
    }

    /// The journal, newest first.
    pub async fn requests(&self, filter: RequestFilter) -> Result<Vec<Entry>> {
        self.read(move |store| {
            let conn = store.conn()?;
            let mut stmt = conn.prepare_cached(
                "SELECT id, at, method, path, chat, operation, request_body, http_status,
                        status_code, response_body, truncated, duration_us, fault
                 FROM requests
                 WHERE (?1 IS NULL OR chat = ?1) AND (?2 IS NULL OR operation = ?2)
                   AND (?3 IS NULL OR http_status = ?3)
                 ORDER BY id DESC LIMIT ?4",
            )?;
            let rows = stmt.query_map(
                params![filter.chat, filter.operation, filter.http_status, filter.limit],
                |r| {
                    Ok(Entry {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        method: r.get(2)?,
                        path: r.get(3)?,
                        chat: r.get(4)?,
                        operation: r.get(5)?,
                        request_body: r.get(6)?,
                        http_status: r.get(7)?,
                        status_code: r.get(8)?,
                        response_body: r.get(9)?,
                        truncated: r.get(10)?,
                        duration_us: r.get(11)?,
                        fault: r
                            .get::<_, Option<String>>(12)?
                            .and_then(|f| serde_json::from_str(&f).ok()),
                    })
                },
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Empties the journal; returns how many rows went.
    pub async fn clear_requests(&self) -> Result<usize> {
        self.write(|tx| Ok(tx.conn().execute("DELETE FROM requests", [])?)).await
    }
}

/// Journal entries written per writer operation (about a millisecond of the writer's time).
const JOURNAL_CHUNK: usize = 500;

fn insert_requests(tx: &WriteTx, entries: &[Entry], keep: i64) -> Result<()> {
    let conn = tx.conn();
    let mut insert = conn.prepare_cached(
        "INSERT INTO requests (at, method, path, chat, operation, request_body, http_status,
                               status_code, response_body, truncated, duration_us, fault)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for e in entries {
        insert.execute(params![
            e.at,
            e.method,
            e.path,
            e.chat,
            e.operation,
            e.request_body,
            e.http_status,
            e.status_code,
            e.response_body,
            e.truncated,
            e.duration_us,
            e.fault.as_ref().map(|f| f.to_string()),
        ])?;
    }
    conn.prepare_cached("DELETE FROM requests WHERE id <= (SELECT max(id) FROM requests) - ?1")?
        .execute([keep])?;
    Ok(())
}
