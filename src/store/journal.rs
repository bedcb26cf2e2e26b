//! The request journal's table (`requests`): writing the queued entries in one batch, keeping at
//! most the journal's size, reading them back newest first.

use rusqlite::params;

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
    /// Writes what the journal has queued (in one writer operation, sharing its commit) and drops
    /// the rows past its size. Returns how many were written.
    pub async fn flush_journal(&self, journal: &Journal) -> Result<usize> {
        let entries = std::sync::Arc::new(journal.take());
        if entries.is_empty() {
            return Ok(0);
        }
        let keep = journal.size() as i64;
        let written = entries.clone();
        let result = self
            .write(move |tx| {
                let conn = tx.conn();
                let mut insert = conn.prepare_cached(
                    "INSERT INTO requests (at, method, path, chat, operation, request_body,
                                           http_status, status_code, response_body, truncated,
                                           duration_us, fault)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?;
                for e in written.iter() {
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
                conn.prepare_cached(
                    "DELETE FROM requests WHERE id <= (SELECT max(id) FROM requests) - ?1",
                )?
                .execute([keep])?;
                Ok(written.len())
            })
            .await;
        if result.is_err() {
            // Not written (busy, or the database is being recreated): back in the queue, before
            // what came meanwhile, for the next write.
            journal.put_back(std::sync::Arc::unwrap_or_clone(entries));
        }
        result
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
