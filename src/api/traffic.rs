//! The customer API's traffic, seen from the middle: every request to `/api/` is matched against
//! the fault rules (`faults.rs`) and recorded in the journal (`journal.rs`), refused and faulted
//! ones included. When no rule can fire and the journal is off, requests pass untouched.

use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, RawFd};
use std::time::{Duration, Instant};

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpMessage, ResponseError};
use futures_util::StreamExt;

use super::error::ApiError;
use super::State;
use crate::clock::wall_ms;
use crate::domain::ChatId;
use crate::faults::{Drop, Fault};
use crate::journal::{classify, Recorded};

/// The socket of a connection, so that a fault can close it without an answer.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionFd(pub RawFd);

pub async fn customer_traffic(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<State>().cloned();
    let Some(st) =
        state.filter(|_| req.path().starts_with("/api/") && req.method() != Method::OPTIONS)
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let (journal, faults) = (st.journal.enabled(), st.faults.any());
    if !journal && !faults {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let started = Instant::now();
    let at = wall_ms();
    let method = req.method().clone();
    let path = req.uri().path_and_query().map_or_else(|| req.path().to_string(), |p| p.to_string());
    let request_body = if req.method() == Method::GET || req.method() == Method::HEAD {
        Bytes::new()
    } else {
        read_body(&mut req, st.limits.max_body).await
    };
    let fault = if faults {
        let what = classify(req.method(), req.path(), &request_body);
        let chat = what.chat.as_deref().and_then(|c| ChatId::parse(c).ok());
        what.operation.as_deref().and_then(|op| st.faults.decide(op, chat.as_ref()))
    } else {
        None
    };
    let fd = req.conn_data::<ConnectionFd>().copied();
    // Nothing reached the client (and, dropped before, nothing was done).
    let mut dropped = false;
    let mut acted = true;
    let res = match fault.as_ref().map(|(_, f)| f) {
        None => next.call(req).await?.map_into_boxed_body(),
        Some(Fault::Delay { ms, .. }) => {
            tokio::time::sleep(Duration::from_millis(*ms as u64)).await;
            next.call(req).await?.map_into_boxed_body()
        }
        Some(Fault::Status { status, status_code }) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let rule = fault.as_ref().map(|(id, _)| id.as_str()).unwrap_or_default();
            let refused = ApiError::new(
                status,
                *status_code,
                format!("a fault injected by the emulator (rule {rule}, POST /__admin/faults): the request was not acted on"),
            );
            req.into_response(refused.error_response()).map_into_boxed_body()
        }
        Some(Fault::Drop { drop: Drop::Before }) => {
            dropped = close(fd);
            acted = false;
            let gone =
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, 4, "the connection was dropped");
            req.into_response(gone.error_response()).map_into_boxed_body()
        }
        Some(Fault::Drop { drop: Drop::After }) => {
            let res = next.call(req).await?.map_into_boxed_body();
            dropped = close(fd);
            res
        }
    };
    if !journal {
        return Ok(res);
    }
    let (request, response) = res.into_parts();
    let status = response.status();
    let (head, body) = response.into_parts();
    let bytes = body::to_bytes(body).await.unwrap_or_default();
    // Its chat and operation are worked out when it is written, not here.
    st.journal.record(Recorded {
        at,
        method,
        path,
        request_body,
        // Dropped after acting: the answer that was lost is kept, for the person debugging.
        http_status: (!dropped).then_some(status.as_u16()),
        response_body: acted.then(|| bytes.clone()),
        duration_us: started.elapsed().as_micros() as i64,
        fault: fault.and_then(|(id, f)| {
            let mut v = serde_json::to_value(&f).ok()?;
            v.as_object_mut()?.insert("rule".into(), id.into());
            Some(v)
        }),
    });
    let response = head.set_body(BoxBody::new(bytes));
    Ok(ServiceResponse::new(request, response))
}

/// Reads the body (up to `limit` + 1 bytes) and puts it back for the handler, followed by what
/// was not read: the handler answers a body over the limit as before.
async fn read_body(req: &mut ServiceRequest, limit: usize) -> Bytes {
    let mut payload = req.take_payload();
    let mut read = BytesMut::new();
    let mut error = None;
    while read.len() <= limit {
        match payload.next().await {
            Some(Ok(chunk)) => read.extend_from_slice(&chunk),
            Some(Err(e)) => {
                error = Some(e);
                break;
            }
            None => break,
        }
    }
    let read = read.freeze();
    let head = futures_util::stream::iter([match error {
        None => Ok(read.clone()),
        Some(e) => Err(e),
    }]);
    let rest: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>>>,
    > = Box::pin(head.chain(payload));
    req.set_payload(Payload::from(rest));
    read
}

/// Closes a connection's socket for reading and writing, so the client sees it end without an
/// answer (the answer written after it goes nowhere). Whether it could.
fn close(fd: Option<ConnectionFd>) -> bool {
    let Some(ConnectionFd(fd)) = fd else { return false };
    // Safety: the connection (and so its socket) lives at least as long as this request; the
    // stream is never dropped here, so the descriptor stays owned by the server.
    let stream = ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(fd) });
    stream.shutdown(std::net::Shutdown::Both).is_ok()
}
