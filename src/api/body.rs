//! Reading a request body as a JSON object, whatever its Content-Type, within the size limit,
//! and typed access to its fields with GWS errors for missing, blank and wrongly typed ones.

use actix_web::web;
use serde_json::{Map, Value};

use super::error::ApiError;

/// The body as a JSON object: 413 past `limit`, 400/1 when empty, not JSON or not an object.
pub async fn json_object(
    payload: web::Payload,
    limit: usize,
) -> Result<Map<String, Value>, ApiError> {
    let bytes = match payload.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            return Err(ApiError::missing(format!("the request body could not be read: {e}")))
        }
        Err(_) => return Err(ApiError::too_large(limit)),
    };
    parse_object(&bytes)
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

    /// A required string of at most `max` characters (400/2 when longer).
    pub fn required_text(&self, name: &str, max: usize) -> Result<String, ApiError> {
        let s = self.required_str(name)?;
        within(name, s, max)
    }

    /// An optional string of at most `max` characters.
    pub fn optional_text(&self, name: &str, max: usize) -> Result<Option<String>, ApiError> {
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

    /// An optional object field, returned as its JSON text.
    pub fn optional_object(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.to_string())),
            Some(other) => Err(wrong_type(name, "a JSON object", other)),
        }
    }
}

fn within(name: &str, s: String, max: usize) -> Result<String, ApiError> {
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
