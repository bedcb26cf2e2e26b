//! Fault injection on the customer API: rules that match requests by operation and/or chat and
//! make them slow, refuse them, or drop their connection before or after they act. Kept in
//! memory (a restart clears them); `probability` draws from a generator seeded by `--seed`, so a
//! run with faults repeats.

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::ChatId;

/// The operations a rule can match: the customer API's.
pub const OPERATIONS: &[&str] = &[
    "RequestChat",
    "SendMessage",
    "SendStartTypingNotification",
    "SendStopTypingNotification",
    "Complete",
    "GetChat",
    "GetTranscript",
];

/// The longest delay a rule may inject.
const MAX_DELAY_MS: i64 = 5 * 60_000;

/// What happens to a matching request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", untagged)]
pub enum Fault {
    /// Wait this long, then act and answer.
    Delay {
        delay: String,
        #[serde(skip)]
        ms: i64,
    },
    /// Refuse with this HTTP status and GWS statusCode; nothing changes.
    Status {
        status: u16,
        #[serde(rename = "statusCode")]
        status_code: i32,
    },
    /// Close the connection without answering: before acting, or after acting and committing.
    Drop { drop: Drop },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Drop {
    Before,
    After,
}

/// A rule, as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: String,
    #[serde(rename = "match")]
    pub matching: Matching,
    pub fault: Fault,
    /// How many more times it may fire (`None`: always).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// How many requests it changed.
    pub fired: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Matching {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatId>,
}

impl Rule {
    /// A rule from `POST /__admin/faults`'s body; the error is the sentence for a 400/2.
    pub fn parse(body: &Map<String, Value>) -> Result<Rule, String> {
        for key in body.keys() {
            if !matches!(key.as_str(), "match" | "fault" | "times" | "probability") {
                return Err(format!(
                    "unknown field {key:?}; a rule has \"match\", \"fault\", \"times\" and \"probability\""
                ));
            }
        }
        let matching = match body.get("match") {
            None | Some(Value::Null) => Matching::default(),
            Some(Value::Object(m)) => {
                for key in m.keys() {
                    if !matches!(key.as_str(), "operation" | "chat") {
                        return Err(format!(
                            "unknown field {key:?} in match; use \"operation\" and \"chat\""
                        ));
                    }
                }
                let operation = match m.get("operation") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(op)) if OPERATIONS.contains(&op.as_str()) => {
                        Some(op.clone())
                    }
                    Some(other) => {
                        return Err(format!(
                            "match.operation must be one of {}, not {other}",
                            OPERATIONS.join(", ")
                        ))
                    }
                };
                let chat = match m.get("chat") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(id)) => Some(ChatId::parse(id).map_err(|_| {
                        format!("match.chat must be a chat id (a UUID), not {id:?}")
                    })?),
                    Some(other) => {
                        return Err(format!("match.chat must be a chat id, not {other}"))
                    }
                };
                Matching { operation, chat }
            }
            Some(_) => {
                return Err(
                    "match must be an object such as {\"operation\": \"SendMessage\"}".into()
                )
            }
        };
        let fault = match body.get("fault") {
            Some(Value::Object(f)) => parse_fault(f)?,
            None | Some(Value::Null) => {
                return Err(
                    "fault is required, e.g. {\"status\": 503} or {\"drop\": \"after\"}".into()
                )
            }
            Some(_) => return Err("fault must be an object".into()),
        };
        let times = match body.get("times") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64().filter(|n| *n >= 1).ok_or("times must be a whole number from 1 up")?,
            ),
        };
        let probability = match body.get("probability") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or("probability must be a number from 0 to 1")?,
            ),
        };
        Ok(Rule { id: String::new(), matching, fault, times, probability, fired: 0 })
    }

    fn matches(&self, operation: &str, chat: Option<&ChatId>) -> bool {
        self.times != Some(0)
            && self.matching.operation.as_deref().is_none_or(|op| op == operation)
            && self.matching.chat.as_ref().is_none_or(|c| Some(c) == chat)
    }
}

fn parse_fault(f: &Map<String, Value>) -> Result<Fault, String> {
    let kinds: Vec<&str> =
        ["delay", "status", "drop"].into_iter().filter(|k| f.contains_key(*k)).collect();
    let fault = match kinds.as_slice() {
        ["delay"] => {
            let value = &f["delay"];
            let ms = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => crate::config::parse_duration(s).map(|d| d.as_millis() as i64),
                _ => None,
            }
            .filter(|ms| (0..=MAX_DELAY_MS).contains(ms))
            .ok_or_else(|| {
                format!("fault.delay must be a duration of at most 5m such as \"2s\", not {value}")
            })?;
            let shown = match value {
                Value::String(s) => s.clone(),
                _ => format!("{ms}ms"),
            };
            Fault::Delay { delay: shown, ms }
        }
        ["status"] => {
            let status = f["status"]
                .as_u64()
                .filter(|s| (400..=599).contains(s))
                .ok_or("fault.status must be an HTTP error status from 400 to 599")?
                as u16;
            let status_code = match f.get("statusCode") {
                // The code the emulator gives that status elsewhere.
                None | Some(Value::Null) => match status {
                    401 => 3,
                    404 => 6,
                    500..=599 => 4,
                    _ => 2,
                },
                // Not 0: an error answer that says "success" would only mislead.
                Some(v) => v
                    .as_i64()
                    .filter(|c| (1..=99).contains(c))
                    .ok_or("fault.statusCode must be a GWS error statusCode (1 to 99)")?
                    as i32,
            };
            Fault::Status { status, status_code }
        }
        ["drop"] => match f["drop"].as_str() {
            Some("before") => Fault::Drop { drop: Drop::Before },
            Some("after") => Fault::Drop { drop: Drop::After },
            _ => return Err("fault.drop must be \"before\" or \"after\"".into()),
        },
        [] => return Err("fault must have one of \"delay\", \"status\", \"drop\"".into()),
        _ => return Err("fault must have only one of \"delay\", \"status\", \"drop\"".into()),
    };
    for key in f.keys() {
        let known = match fault {
            Fault::Status { .. } => matches!(key.as_str(), "status" | "statusCode"),
            _ => kinds.contains(&key.as_str()),
        };
        if !known {
            return Err(format!("unknown field {key:?} in fault"));
        }
    }
    Ok(fault)
}

/// The rules in force.
pub struct Faults {
    state: Mutex<State>,
}

struct State {
    rules: Vec<Rule>,
    next_id: u64,
    rng: StdRng,
}

impl Faults {
    /// No rules; `seed` makes `probability` reproducible.
    pub fn new(seed: Option<u64>) -> Faults {
        let rng = match seed {
            // Its own stream, so faults do not shift the contact centre's draws.
            Some(seed) => StdRng::seed_from_u64(seed ^ 0x6661_756c_7473),
            None => StdRng::from_os_rng(),
        };
        Faults { state: Mutex::new(State { rules: Vec::new(), next_id: 1, rng }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any rule can still fire (the fast path skips everything otherwise).
    pub fn any(&self) -> bool {
        self.state().rules.iter().any(|r| r.times != Some(0))
    }

    /// Adds a rule; returns its id.
    pub fn add(&self, mut rule: Rule) -> String {
        let mut st = self.state();
        rule.id = st.next_id.to_string();
        st.next_id += 1;
        let id = rule.id.clone();
        st.rules.push(rule);
        id
    }

    pub fn list(&self) -> Vec<Rule> {
        self.state().rules.clone()
    }

    /// Removes rule `id`; whether there was one.
    pub fn remove(&self, id: &str) -> bool {
        let mut st = self.state();
        let before = st.rules.len();
        st.rules.retain(|r| r.id != id);
        st.rules.len() != before
    }

    pub fn clear(&self) -> usize {
        let mut st = self.state();
        std::mem::take(&mut st.rules).len()
    }

    /// The fault for a request, if a rule fires: the first matching rule that has times left
    /// and passes its probability. Counts it.
    pub fn decide(&self, operation: &str, chat: Option<&ChatId>) -> Option<(String, Fault)> {
        let mut st = self.state();
        let State { rules, rng, .. } = &mut *st;
        for rule in rules.iter_mut() {
            if !rule.matches(operation, chat) {
                continue;
            }
            if let Some(p) = rule.probability {
                if rng.random::<f64>() >= p {
                    continue;
                }
            }
            rule.fired += 1;
            if let Some(times) = rule.times.as_mut() {
                *times -= 1;
            }
            return Some((rule.id.clone(), rule.fault.clone()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> Result<Rule, String> {
        Rule::parse(v.as_object().unwrap())
    }

    #[test]
    fn rules_parse_and_refuse_with_a_reason() {
        let r = rule(
            json!({"match": {"operation": "SendMessage"}, "fault": {"status": 503}, "times": 2}),
        )
        .unwrap();
        assert_eq!(r.fault, Fault::Status { status: 503, status_code: 4 });
        assert_eq!(r.times, Some(2));
        let r = rule(json!({"fault": {"status": 404}})).unwrap();
        assert_eq!(r.fault, Fault::Status { status: 404, status_code: 6 }, "as a real 404");
        let r = rule(json!({"fault": {"delay": "1500ms"}})).unwrap();
        assert!(matches!(r.fault, Fault::Delay { ms: 1500, .. }));
        for (bad, why) in [
            (json!({}), "fault is required"),
            (json!({"fault": {}}), "one of"),
            (json!({"fault": {"status": 200}}), "400 to 599"),
            (json!({"fault": {"status": 503, "drop": "after"}}), "only one"),
            (json!({"fault": {"status": 503, "statusCode": 0}}), "1 to 99"),
            (json!({"fault": {"drop": "sideways"}}), "before"),
            (json!({"fault": {"delay": "-1s"}}), "delay"),
            (json!({"fault": {"delay": "1h"}}), "5m"),
            (json!({"fault": {"status": 503}, "times": 0}), "times"),
            (json!({"fault": {"status": 503}, "probability": 2}), "probability"),
            (json!({"match": {"operation": "Dance"}, "fault": {"status": 503}}), "match.operation"),
            (json!({"match": {"chat": "nope"}, "fault": {"status": 503}}), "match.chat"),
            (json!({"match": "all", "fault": {"status": 503}}), "match must be"),
            (json!({"fault": {"status": 503}, "extra": 1}), "unknown field"),
        ] {
            let err = rule(bad.clone()).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn times_and_a_seeded_probability() {
        let faults = Faults::new(Some(1));
        faults.add(rule(json!({"match": {"operation": "SendMessage"}, "fault": {"status": 503}, "times": 2})).unwrap());
        assert!(faults.decide("GetChat", None).is_none());
        assert!(faults.decide("SendMessage", None).is_some());
        assert!(faults.decide("SendMessage", None).is_some());
        assert!(faults.decide("SendMessage", None).is_none(), "two times only");
        assert!(!faults.any());
        let draws = |seed| {
            let f = Faults::new(Some(seed));
            f.add(rule(json!({"fault": {"drop": "before"}, "probability": 0.5})).unwrap());
            (0..64).map(|_| f.decide("GetChat", None).is_some()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7), "the same seed, the same sequence");
        assert!(draws(7).iter().any(|d| *d) && draws(7).iter().any(|d| !*d));
    }
}
