//! What handlers take from a request, parsed once so they never see unchecked input: the chat id
//! of the path (`ChatPath`), the body as a JSON object whatever its Content-Type and within the
//! size limit (`JsonBody`), typed access to its fields with GWS errors for missing, blank and
//! wrongly typed ones (`Fields`), and the query string.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::State;
use crate::domain::ChatId;

/// The chat id of the path (`{id}`): a UUID, or 404/6 before the handler runs.
pub struct ChatPath(pub ChatId);

impl FromRequest for ChatPath {
    type Error = ApiError;
    type Future = std::future::Ready<Result<ChatPath, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = req.match_info().get("id").unwrap_or_default();
        std::future::ready(ChatId::parse(raw).map(ChatPath).map_err(ApiError::from))
    }
}

/// The body as a JSON object: 413 past `--max-body`, 400/1 when empty, not JSON or not an object.
pub struct JsonBody(pub Map<String, Value>);

impl JsonBody {
    pub fn fields(&self) -> Fields<'_> {
        Fields(&self.0)
    }
}

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<JsonBody, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<State>().map_or(64 * 1024, |s| s.limits.max_body);
        let payload = web::Payload::from_request(req, payload).into_inner();
        Box::pin(async move {
            let payload = payload.map_err(|e| {
                ApiError::missing(format!("the request body could not be read: {e}"))
            })?;
            let bytes = match payload.to_bytes_limited(limit).await {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(e)) => {
                    return Err(ApiError::missing(format!(
                        "the request body could not be read: {e}"
                    )))
                }
                Err(_) => return Err(ApiError::too_large(limit)),
            };
            parse_object(&bytes).map(JsonBody)
        })
    }
}

/// The query string as a map (400/2 when it cannot be decoded).
pub fn query_map(req: &HttpRequest) -> Result<HashMap<String, String>, ApiError> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::invalid(format!("the query string is not valid: {e}")))
}

/// The longest duration the API takes (an advance of the clock, a scenario delay).
pub const MAX_DURATION_MS: i64 = 365 * 86_400_000;

/// A duration given as a string with a unit (`"30m"`, `"1500ms"`, `"2h"`, `"7d"`) or as a number
/// of milliseconds: 400/2 when negative, not a duration, or longer than a year.
pub fn duration_ms(name: &str, value: &Value) -> Result<i64, ApiError> {
    let ms = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => crate::config::parse_duration(s).map(|d| d.as_millis() as i64),
        _ => None,
    };
    let shown: String = value.to_string().chars().take(40).collect();
    match ms {
        Some(ms) if (0..=MAX_DURATION_MS).contains(&ms) => Ok(ms),
        _ if value.as_i64().is_some_and(|n| n > MAX_DURATION_MS)
            || value.as_str().is_some_and(looks_too_long) =>
        {
            Err(ApiError::invalid(format!("{name} must be at most 365 days, not {shown}")))
        }
        _ => Err(ApiError::invalid(format!(
            "{name} must be a duration such as \"30m\", \"1500ms\" or a number of milliseconds, \
             not {shown}"
        ))),
    }
}

/// A well-formed duration past the limit (so the message can say so).
fn looks_too_long(s: &str) -> bool {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    digits > 0
        && matches!(s[digits..].trim(), "" | "ms" | "s" | "m" | "min" | "h" | "d")
        && crate::config::parse_duration(s).is_none()
}

/// The value of `index` in the query string: absent, or a whole number >= 0 (400/2 otherwise).
pub fn index_param(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let query = query_map(req)?;
    match query.get("index") {
        None => Ok(None),
        Some(v) => v.trim().parse::<i64>().ok().filter(|n| *n >= 0).map(Some).ok_or_else(|| {
            let shown: String = v.chars().take(40).collect();
            ApiError::invalid(format!("index must be a whole number from 0 up, not {shown:?}"))
        }),
    }
}

pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::missing(
            "the request body is empty; send a JSON object such as {\"operationName\":\"SendMessage\",\"text\":\"Hi\"}",
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::missing(format!(
            "the request body must be a JSON object, not {}",
            kind_of(&other)
        ))),
        Err(e) => Err(ApiError::missing(format!("the request body is not valid JSON: {e}"))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Typed access to the fields of a request object.
pub struct Fields<'a>(pub &'a Map<String, Value>);

impl Fields<'_> {
    /// A string field that must be present and not blank (400/1), and a string (400/2).
    pub fn required_str(&self, name: &str) -> Result<String, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(ApiError::missing(format!("{name} is required"))),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(ApiError::missing(format!("{name} must not be blank")))
            }
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(wrong_type(name, "a string", other)),
        }
    }

    /// A required string of at most `max` characters when given (400/2 when longer).
    pub fn required_text(
        &self,
        name: &str,
        max: impl Into<Option<usize>>,
    ) -> Result<String, ApiError> {
        let s = self.required_str(name)?;
        within(name, s, max.into())
    }

    /// An optional string of at most `max` characters when given.
    pub fn optional_text(
        &self,
        name: &str,
        max: impl Into<Option<usize>>,
    ) -> Result<Option<String>, ApiError> {
        let max = max.into();
        self.optional_str(name)?.map(|s| within(name, s, max)).transpose()
    }

    /// An optional string field: absent or null gives None; another type is 400/2.
    pub fn optional_str(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(wrong_type(name, "a string", other)),
        }
    }

    /// An optional boolean field (400/2 when not a boolean).
    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(wrong_type(name, "true or false", other)),
        }
    }

    /// An optional duration field (see `duration_ms`), in milliseconds.
    pub fn optional_duration(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => duration_ms(name, v).map(Some),
        }
    }

    /// An optional object field, returned as its JSON text.
    pub fn optional_object(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.to_string())),
            Some(other) => Err(wrong_type(name, "a JSON object", other)),
        }
    }
}

fn within(name: &str, s: String, max: Option<usize>) -> Result<String, ApiError> {
    let Some(max) = max else { return Ok(s) };
    // Counting stops at max + 1: a huge text costs no more than the limit.
    if s.chars().take(max + 1).count() > max {
        Err(ApiError::invalid(format!("{name} is longer than the limit of {max} characters")))
    } else {
        Ok(s)
    }
}

fn wrong_type(name: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid(format!("{name} must be {expected}, not {}", kind_of(got)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_that_are_not_objects_are_missing_parameters() {
        for body in [&b""[..], b"  ", b"nope", b"[1]", b"\"x\"", b"null", b"{\"a\":", b"\xff\xfe"] {
            let err = parse_object(body).unwrap_err();
            assert_eq!(err.status_code, 1, "{body:?}");
        }
        assert!(parse_object(b"{\"operationName\":\"Complete\"}").is_ok());
    }

    #[test]
    fn field_types_are_checked() {
        let map = parse_object(br#"{"a":"x","b":"  ","c":3,"d":{"k":1},"e":null}"#).unwrap();
        let f = Fields(&map);
        assert_eq!(f.required_str("a").unwrap(), "x");
        assert_eq!(f.required_str("b").unwrap_err().status_code, 1);
        assert_eq!(f.required_str("c").unwrap_err().status_code, 2);
        assert_eq!(f.required_str("e").unwrap_err().status_code, 1);
        assert_eq!(f.required_str("zz").unwrap_err().status_code, 1);
        assert_eq!(f.optional_str("zz").unwrap(), None);
        assert_eq!(f.optional_object("d").unwrap().as_deref(), Some("{\"k\":1}"));
        assert_eq!(f.optional_object("a").unwrap_err().status_code, 2);
        assert_eq!(f.required_text("a", 1).unwrap(), "x");
        let long = parse_object("{\"t\":\"ééé\"}".as_bytes()).unwrap();
        assert_eq!(Fields(&long).required_text("t", 3).unwrap(), "ééé", "characters, not bytes");
        assert_eq!(Fields(&long).required_text("t", 2).unwrap_err().status_code, 2);
        assert_eq!(Fields(&long).optional_text("t", 2).unwrap_err().status_code, 2);
    }
}
