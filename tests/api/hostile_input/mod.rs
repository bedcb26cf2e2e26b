//! Hostile input (issue "Robustness"): requests no well-behaved widget sends — malformed,
//! mistyped, oversized, badly framed, with traversal in ids and static paths, every method on
//! every route — and, with `proptest`, requests no one listed. Each must get its answer in
//! seconds, never a 5xx, always a GWS JSON error (`statusCode` + `statusMessage`) when refused,
//! the status and code the error table (docs/api.md section 4) gives where it gives one, and must change nothing.
//!
//! `table`: the listed requests, read from `tests/fixtures/hostile/`; `pipelining`: a request
//! behind `Connection: close`; `properties`: the generated ones. Every request goes over its own
//! connection through the harness's `exchange`, with a short limit, so that a hang is a reported
//! failure after a few seconds, a request can half-close its write side, and an interim
//! `100 Continue` is skipped.

mod pipelining;
mod properties;
mod table;

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{exchange, preview, wire, Exchange, Response, Server};

/// The opt-in `--max-text` the table and the properties run with, and the `--max-body` default.
const MAX_TEXT: usize = 16384;
const MAX_BODY: usize = 64 * 1024;
/// How long one request may take before it counts as a hang.
const QUICK: Duration = Duration::from_secs(5);

/// Sends a well-framed request (with a JSON content type) and reads the answer within `QUICK`.
fn send(server: &Server, method: &str, target: &str, body: &[u8]) -> Result<Response, String> {
    let raw = wire(method, target, &[("Content-Type", "application/json")], body);
    let how = Exchange { head: method == "HEAD", half_close: false, limit: QUICK };
    exchange(server.port, &raw, how)
}

fn show(res: &Response) -> String {
    format!("HTTP {} {}", res.status, preview(&res.body))
}

// ---- what every answer must look like ----

fn is_json_type(res: &Response) -> bool {
    res.header("Content-Type").is_some_and(|v| v.starts_with("application/json"))
}

/// Checks a GWS error body (JSON object, integer non-zero `statusCode`, non-empty
/// `statusMessage`, JSON content type) and returns its `statusCode`.
fn gws_error(res: &Response) -> Result<i64, String> {
    let body: Value = serde_json::from_slice(&res.body)
        .map_err(|e| format!("the error body is not JSON ({e})"))?;
    let code = body
        .get("statusCode")
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("no integer statusCode in the error body {body}"))?;
    if code == 0 {
        return Err(format!("statusCode 0 in an error answer: {body}"));
    }
    let message = body.get("statusMessage").and_then(Value::as_str).unwrap_or_default();
    if message.trim().is_empty() {
        return Err(format!("no statusMessage in the error body {body}"));
    }
    if !is_json_type(res) {
        return Err(format!("Content-Type {:?} on a JSON error", res.header("Content-Type")));
    }
    Ok(code)
}

/// Lines of the emulator's log and stderr that tell of a panic.
fn panics_in_logs(server: &Server) -> Vec<String> {
    let log = server.log_text();
    let stderr = server.stderr_text();
    log.lines().chain(stderr.lines()).filter(|l| l.contains("panicked")).map(String::from).collect()
}

#[track_caller]
fn assert_still_healthy(server: &Server) {
    let res = server.get("/__admin/health");
    assert_eq!(res.status, 200, "health after the hostile requests: {}", res.text());
    assert_eq!(res.json()["status"], "ok", "health: {}", res.text());
    let panics = panics_in_logs(server);
    assert!(panics.is_empty(), "the emulator panicked:\n{}", panics.join("\n"));
}
