//! Waiting and watching: long-polling transcript reads (`wait`) and Server-Sent Event streams of
//! one chat or of every chat. Both are woken by the writer right after its commit (`events.rs`),
//! never by polling the database, and hold no thread or database connection while they wait.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::customer::{transcript, Transcript};
use super::error::ApiError;
use super::extract::{index_param, query_map, ChatPath};
use super::{Answer, State};
use crate::domain::{ChatId, Reader};
use crate::events::{ChatEvents, Event};

/// The longest `wait` of a long poll.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// A comment line this often keeps idle streams open through proxies.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /__admin/chats/{id}/messages[?index=N][&wait=5s]`: the agent side's transcript read;
/// with `wait`, held until there is something to answer or the wait ends.
pub async fn agent_transcript(
    st: State,
    id: ChatPath,
    req: HttpRequest,
) -> Result<Answer<Transcript>, ApiError> {
    let wait = wait_param(&req)?;
    let from = index_param(&req)?;
    let Some(wait) = wait else {
        return transcript(&st, &id.0, &req, Reader::Agent).await.map(Answer);
    };
    let deadline = Instant::now() + wait;
    // Subscribed before the first read: nothing written in between can be missed.
    let mut events = st.store.watch(&id.0).await?;
    let mut closed = st.store.events().closed();
    loop {
        let answer = transcript(&st, &id.0, &req, Reader::Agent).await?;
        if !answer.messages.is_empty() {
            return Ok(Answer(answer));
        }
        if !wait_for_message(&mut events, &mut closed, &id.0, from, deadline).await {
            return Ok(Answer(answer));
        }
    }
}

/// Waits for a message of chat `id` with index >= `from` (any new one without `from`); false
/// when the wait ended (deadline, or the server stops).
async fn wait_for_message(
    events: &mut ChatEvents,
    closed: &mut watch::Receiver<bool>,
    id: &ChatId,
    from: Option<i64>,
    deadline: Instant,
) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || *closed.borrow() {
            return false;
        }
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let wanted = event.chat() == id
                        && event.index().is_some_and(|i| from.is_none_or(|n| i >= n.max(1)));
                    if wanted {
                        return true;
                    }
                }
                // Fell behind: something was written; read again.
                Err(RecvError::Lagged(_)) => return true,
                Err(RecvError::Closed) => return false,
            },
            _ = tokio::time::sleep(left) => return false,
            _ = closed.changed() => return false,
        }
    }
}

fn wait_param(req: &HttpRequest) -> Result<Option<Duration>, ApiError> {
    let query = query_map(req)?;
    let Some(raw) = query.get("wait") else { return Ok(None) };
    let wait = crate::config::parse_duration(raw).ok_or_else(|| {
        let shown: String = raw.chars().take(40).collect();
        ApiError::invalid(format!("wait must be a duration such as 5s or 500ms, not {shown:?}"))
    })?;
    if wait > MAX_WAIT {
        return Err(ApiError::invalid("wait must be at most 60s"));
    }
    Ok(Some(wait))
}

/// `GET /__admin/chats/{id}/events`: the chat's events as Server-Sent Events: first its state,
/// then every message after `Last-Event-ID` (all of them without it), then what is written.
pub async fn chat_events(
    st: State,
    id: ChatPath,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.0;
    let after = last_event_id(&req)?;
    let events = st.store.watch(&id).await?;
    let (state, messages) = st.store.state_and_messages_after(&id, after).await?;
    let mut backlog = VecDeque::with_capacity(messages.len() + 2);
    backlog.push_back(Bytes::from_static(b"retry: 1000\n\n"));
    backlog.push_back(Bytes::from(Event::State { chat: id.clone(), state }.to_sse()));
    let mut last = after;
    for message in messages {
        last = message.index;
        backlog.push_back(Bytes::from(Event::Message { chat: id.clone(), message }.to_sse()));
    }
    let stream = Stream {
        backlog,
        source: Source::Chat { events, id, last },
        closed: st.store.events().closed(),
        keep_alive: keep_alive(),
        ended: false,
    };
    Ok(sse_response(stream))
}

/// `GET /__admin/events`: every chat's events as Server-Sent Events, from now on.
pub async fn all_events(st: State) -> HttpResponse {
    let stream = Stream {
        backlog: VecDeque::from([Bytes::from_static(b"retry: 1000\n\n")]),
        source: Source::All(st.store.events().subscribe_all()),
        closed: st.store.events().closed(),
        keep_alive: keep_alive(),
        ended: false,
    };
    sse_response(stream)
}

/// The index after `Last-Event-ID: <chatId>:<index>` (or the `lastEventId` query parameter,
/// for clients that cannot set headers); 0 without one.
fn last_event_id(req: &HttpRequest) -> Result<i64, ApiError> {
    let header =
        req.headers().get("Last-Event-ID").and_then(|v| v.to_str().ok()).map(str::to_string);
    let raw = match header {
        Some(v) => v,
        None => match query_map(req)?.remove("lastEventId") {
            Some(v) => v,
            None => return Ok(0),
        },
    };
    let index = raw.rsplit(':').next().unwrap_or_default().trim();
    index.parse::<i64>().ok().filter(|i| *i >= 0).ok_or_else(|| {
        let shown: String = raw.chars().take(80).collect();
        ApiError::invalid(format!(
            "Last-Event-ID must be the id of an event of this stream (<chatId>:<index>), not {shown:?}"
        ))
    })
}

fn keep_alive() -> tokio::time::Interval {
    let mut interval =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}

enum Source {
    Chat { events: ChatEvents, id: ChatId, last: i64 },
    All(broadcast::Receiver<Arc<Event>>),
}

/// What one stream has still to send, and where the rest comes from.
struct Stream {
    backlog: VecDeque<Bytes>,
    source: Source,
    closed: watch::Receiver<bool>,
    keep_alive: tokio::time::Interval,
    /// The subscriber fell too far behind: what is queued is sent, then the stream ends.
    ended: bool,
}

const BEHIND: &[u8] =
    b": this stream fell too far behind and ends; reconnect with Last-Event-ID\n\n";

impl Stream {
    async fn next(&mut self) -> Option<Bytes> {
        if let Some(bytes) = self.backlog.pop_front() {
            return Some(bytes);
        }
        if self.ended || *self.closed.borrow() {
            return None;
        }
        loop {
            let event = tokio::select! {
                event = recv(&mut self.source) => event,
                _ = self.closed.changed() => return None,
                _ = self.keep_alive.tick() => return Some(Bytes::from_static(b": keep-alive\n\n")),
            };
            match event {
                Ok(event) => {
                    if let Source::Chat { id, last, .. } = &mut self.source {
                        if event.chat() != id {
                            continue;
                        }
                        if let Some(index) = event.index() {
                            if index <= *last {
                                continue;
                            }
                            *last = index;
                        }
                    }
                    return Some(Bytes::from(event.to_sse()));
                }
                Err(RecvError::Lagged(_)) => {
                    self.ended = true;
                    return Some(Bytes::from_static(BEHIND));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

async fn recv(source: &mut Source) -> Result<Arc<Event>, RecvError> {
    match source {
        Source::Chat { events, .. } => events.recv().await,
        Source::All(rx) => rx.recv().await,
    }
}

fn sse_response(stream: Stream) -> HttpResponse {
    let body = futures_util::stream::unfold(stream, |mut stream| async move {
        let bytes = stream.next().await?;
        Some((Ok::<_, Infallible>(bytes), stream))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}
