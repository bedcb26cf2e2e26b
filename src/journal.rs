//! The request journal: every customer API request, as it was answered (or dropped), kept in
//! SQLite (`requests`, at most `--journal-size` rows, oldest dropped). Recording costs a request
//! only a push into a bounded queue in memory of what it already holds (its bodies are shared,
//! not copied; text is made of them only for what is written): the queue is written to SQLite in
//! one batch about once a second (and before the journal is read through the admin API, and at a
//! clean stop), keeping only the newest entries when more came in meanwhile. Nothing here waits
//! for SQLite.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use actix_web::http::Method;
use actix_web::web::Bytes;
use serde::{Deserialize, Serialize};

use crate::domain::ChatId;

/// Bodies are kept up to this many bytes (cut on a character boundary).
pub const BODY_LIMIT: usize = 4096;

/// One request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Its row id, once stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Wall-clock time it arrived, ms since the epoch.
    pub at: i64,
    pub method: String,
    /// The path with its query string.
    pub path: String,
    pub chat: Option<String>,
    pub operation: Option<String>,
    pub request_body: Option<String>,
    /// `None`: the connection was dropped without an answer.
    pub http_status: Option<u16>,
    pub status_code: Option<i64>,
    pub response_body: Option<String>,
    /// A body was cut to `BODY_LIMIT` bytes.
    pub truncated: bool,
    pub duration_us: i64,
    /// The fault injected, as JSON.
    pub fault: Option<serde_json::Value>,
}

/// One request as recorded, before it is written: what the request already had, shared.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Wall-clock time it arrived, ms since the epoch.
    pub at: i64,
    pub method: Method,
    /// The path with its query string.
    pub path: String,
    /// Empty: none.
    pub request_body: Bytes,
    /// `None`: the connection was dropped without an answer.
    pub http_status: Option<u16>,
    /// The answer's body; `None` when the request was not acted on.
    pub response_body: Option<Bytes>,
    pub duration_us: i64,
    pub fault: Option<serde_json::Value>,
}

/// A recorded request as it waits in the queue: its bodies cut to what will be kept, so a
/// queue of big answers holds no more than `BODY_LIMIT` bytes of each.
#[derive(Debug, Clone)]
pub struct Queued {
    recorded: Recorded,
    /// Worked out before the request body was cut (only for bodies over the limit).
    classified: Option<Classified>,
    /// The same for the answer's `statusCode` (it is at the end of a long transcript).
    status_code: Option<Option<i64>>,
}

impl Queued {
    fn new(mut recorded: Recorded) -> Queued {
        let mut classified = None;
        if recorded.request_body.len() > BODY_LIMIT {
            classified = Some(recorded.classify());
            recorded.request_body = cut(&recorded.request_body);
        }
        let mut code = None;
        if let Some(body) = recorded.response_body.as_mut().filter(|b| b.len() > BODY_LIMIT) {
            code = Some(status_code(body));
            *body = cut(body);
        }
        Queued { recorded, classified, status_code: code }
    }

    /// The entry as it is stored and shown (with its chat and operation worked out).
    pub fn entry(&self) -> Entry {
        let r = &self.recorded;
        let what = self.classified.clone().unwrap_or_else(|| r.classify());
        let chat = what.chat.or_else(|| {
            // RequestChat names its new chat in the answer.
            let created = what.operation.as_deref() == Some("RequestChat")
                && r.http_status.is_some_and(|s| (200..300).contains(&s));
            created.then(|| r.response_body.as_deref().and_then(new_chat_id)).flatten()
        });
        let (request_text, request_cut) = body_text(&r.request_body);
        let (response_body, status_code, response_cut) = match &r.response_body {
            Some(bytes) => {
                let (text, cut) = body_text(bytes);
                (Some(text), self.status_code.unwrap_or_else(|| status_code(bytes)), cut)
            }
            None => (None, None, false),
        };
        Entry {
            id: None,
            at: r.at,
            method: r.method.to_string(),
            path: r.path.clone(),
            chat,
            operation: what.operation.map(Cow::into_owned),
            request_body: (!r.request_body.is_empty()).then_some(request_text),
            http_status: r.http_status,
            status_code,
            response_body,
            truncated: request_cut || response_cut,
            duration_us: r.duration_us,
            fault: r.fault.clone(),
        }
    }
}

impl Recorded {
    fn classify(&self) -> Classified {
        let path = self.path.split('?').next().unwrap_or_default();
        classify(&self.method, path, &self.request_body)
    }
}

/// The start of a body over `BODY_LIMIT`, copied (a slice would keep the whole body alive):
/// enough for `body_text` to cut it on a character boundary and see that it was cut.
fn cut(body: &Bytes) -> Bytes {
    Bytes::copy_from_slice(&body[..body.len().min(BODY_LIMIT + 4)])
}

/// The entries not yet written.
pub struct Journal {
    size: usize,
    queue: Mutex<VecDeque<Queued>>,
    /// Entries dropped from the queue before they were written (newer ones took their place).
    skipped: AtomicU64,
    /// Held while the queue is written, so that two writes do not interleave.
    flushing: tokio::sync::Mutex<()>,
}

impl Journal {
    /// A journal of at most `size` entries (0: off).
    pub fn new(size: usize) -> Journal {
        Journal {
            size,
            queue: Mutex::new(VecDeque::new()),
            skipped: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.size > 0
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Held by whoever writes the queue to SQLite.
    pub fn flushing(&self) -> &tokio::sync::Mutex<()> {
        &self.flushing
    }

    /// Queues an entry; never waits for SQLite. Past `size` queued, the oldest goes: it would be
    /// dropped from the table at the next write anyway.
    pub fn record(&self, entry: Recorded) {
        let entry = Queued::new(entry);
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let gone = if queue.len() >= self.size { queue.pop_front() } else { None };
        queue.push_back(entry);
        drop(queue);
        // Freed outside the lock.
        if gone.is_some() {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes what is queued, oldest first.
    pub fn take(&self) -> Vec<Queued> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *queue).into()
    }

    /// Puts back entries taken by `take` that could not be written, before the newer ones (the
    /// oldest go first if that makes more than `size`).
    pub fn put_back(&self, entries: Vec<Queued>) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        for entry in entries.into_iter().rev() {
            queue.push_front(entry);
        }
        while queue.len() > self.size {
            queue.pop_front();
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }
}

/// What a request to the customer API is: its operation and chat, as far as its path and body
/// say (for the journal, and for matching fault rules).
#[derive(Debug, Clone)]
pub struct Classified {
    pub operation: Option<Cow<'static, str>>,
    pub chat: Option<String>,
}

/// Only `operationName` of a body (the rest is skipped, not built).
#[derive(Deserialize)]
struct OperationName {
    #[serde(rename = "operationName")]
    operation_name: Option<serde_json::Value>,
}

/// Classifies a request to `path` (without its query string).
pub fn classify(method: &Method, path: &str, body: &[u8]) -> Classified {
    // /api/v2/chats[/{id}[/messages]]
    let rest = path.trim_end_matches('/').strip_prefix("/api/v2/chats");
    let (id, tail) = match rest {
        Some("") => (None, Some("")),
        Some(rest) => match rest.strip_prefix('/') {
            Some(rest) => match rest.split_once('/') {
                Some((id, tail)) => (Some(id), Some(tail)),
                None => (Some(rest), None),
            },
            None => (None, None),
        },
        None => (None, None),
    };
    let chat = id.map(|id| match ChatId::parse(id) {
        Ok(c) => c.to_string(),
        Err(_) => id.chars().take(64).collect(),
    });
    let operation = match (method.as_str(), id.is_some(), tail) {
        ("POST", false, Some("")) => Some(Cow::Borrowed("RequestChat")),
        ("POST", true, None) => operation_name(body).map(Cow::Owned),
        ("GET", true, None) => Some(Cow::Borrowed("GetChat")),
        ("GET", true, Some("messages")) => Some(Cow::Borrowed("GetTranscript")),
        _ => None,
    };
    Classified { operation, chat }
}

/// The body's `operationName`, if it is a JSON object with a string there.
fn operation_name(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<OperationName>(body).ok()?.operation_name? {
        serde_json::Value::String(s) => Some(s.chars().take(64).collect()),
        _ => None,
    }
}

fn new_chat_id(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("id")?.as_str().map(str::to_string)
}

/// `bytes` as text of at most `BODY_LIMIT` bytes (cut on a character boundary; invalid UTF-8
/// shown with replacement characters), and whether it was cut.
pub fn body_text(bytes: &[u8]) -> (String, bool) {
    let cut = bytes.len() > BODY_LIMIT;
    let mut text = String::from_utf8_lossy(&bytes[..bytes.len().min(BODY_LIMIT + 4)]).into_owned();
    if text.len() > BODY_LIMIT {
        let mut end = BODY_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    (text, cut)
}

/// The `statusCode` of a GWS answer, found without parsing it whole (a transcript can be large:
/// its `statusCode` is the last field; an error's is the first).
pub fn status_code(body: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"\"statusCode\":";
    let at = body.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let digits: String = body[at..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit() || **b == b'-')
        .map(|b| *b as char)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cut_on_a_character_boundary() {
        let (t, cut) = body_text("é".repeat(3000).as_bytes());
        assert!(cut);
        assert!(t.len() <= BODY_LIMIT && t.len() >= BODY_LIMIT - 1);
        assert!(t.chars().all(|c| c == 'é'));
        assert_eq!(body_text(b"short"), ("short".to_string(), false));
    }

    #[test]
    fn the_status_code_is_found_at_either_end() {
        assert_eq!(
            status_code(br#"{"messages":[{"text":"\"statusCode\":9"}],"statusCode":0}"#),
            Some(0)
        );
        assert_eq!(status_code(br#"{"statusCode":6,"statusMessage":"no"}"#), Some(6));
        assert_eq!(status_code(b"nothing"), None);
    }

    #[test]
    fn the_queue_keeps_the_newest() {
        let j = Journal::new(2);
        for i in 0..5 {
            j.record(Recorded {
                at: i,
                method: Method::GET,
                path: "/".into(),
                request_body: Bytes::new(),
                http_status: Some(200),
                response_body: None,
                duration_us: 1,
                fault: None,
            });
        }
        let kept: Vec<i64> = j.take().iter().map(|e| e.recorded.at).collect();
        assert_eq!(kept, [3, 4]);
        assert!(j.is_empty());
    }

    #[test]
    fn an_entry_is_made_of_what_was_recorded() {
        let recorded = Recorded {
            at: 7,
            method: Method::POST,
            path: "/api/v2/chats/x?a=1".into(),
            request_body: Bytes::from(format!(
                r#"{{"operationName":"SendMessage","message":"{}"}}"#,
                "é".repeat(3000)
            )),
            http_status: Some(400),
            response_body: Some(Bytes::from_static(br#"{"statusCode":2,"statusMessage":"no"}"#)),
            duration_us: 5,
            fault: None,
        };
        let e = Queued::new(recorded.clone()).entry();
        assert_eq!((e.method.as_str(), e.path.as_str()), ("POST", "/api/v2/chats/x?a=1"));
        assert_eq!(e.operation.as_deref(), Some("SendMessage"));
        assert_eq!(e.chat.as_deref(), Some("x"));
        assert_eq!(e.status_code, Some(2));
        assert!(e.truncated, "the request body was cut");
        assert!(e.request_body.unwrap().len() <= BODY_LIMIT);
        let dropped = Recorded { response_body: None, request_body: Bytes::new(), ..recorded };
        let e = Queued::new(dropped).entry();
        assert_eq!((e.request_body, e.response_body, e.status_code), (None, None, None));
        assert!(!e.truncated);
        let created = Recorded {
            at: 8,
            method: Method::POST,
            path: "/api/v2/chats".into(),
            request_body: Bytes::from_static(br#"{"operationName":"RequestChat"}"#),
            http_status: Some(200),
            response_body: Some(Bytes::from_static(br#"{"id":"abc","statusCode":0}"#)),
            duration_us: 1,
            fault: None,
        };
        let e = Queued::new(created).entry();
        assert_eq!((e.operation.as_deref(), e.chat.as_deref()), (Some("RequestChat"), Some("abc")));
    }

    #[test]
    fn big_bodies_are_cut_when_queued_and_still_classified() {
        let text = "x".repeat(20_000);
        let answer = format!(r#"{{"messages":[{{"text":"{text}"}}],"statusCode":0}}"#);
        let queued = Queued::new(Recorded {
            at: 1,
            method: Method::POST,
            path: "/api/v2/chats/abc".into(),
            request_body: Bytes::from(format!(
                r#"{{"operationName":"SendMessage","message":"{text}"}}"#
            )),
            http_status: Some(200),
            response_body: Some(Bytes::from(answer)),
            duration_us: 1,
            fault: None,
        });
        assert!(queued.recorded.request_body.len() <= BODY_LIMIT + 4);
        assert!(queued.recorded.response_body.as_ref().unwrap().len() <= BODY_LIMIT + 4);
        let e = queued.entry();
        assert_eq!(e.operation.as_deref(), Some("SendMessage"));
        assert_eq!(e.status_code, Some(0), "found at the end of the whole answer");
        assert!(e.truncated);
        assert_eq!(e.response_body.unwrap().len(), BODY_LIMIT);
    }
}
