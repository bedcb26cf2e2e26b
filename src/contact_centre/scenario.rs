//! The scenario format: what the contact centre does in a chat, step by step, as JSON. Parsed
//! and checked completely before it is used: a bad document is refused with one sentence naming
//! the step (numbered from 1) and what is wrong. Pure code, no I/O.
//!
//! ```json
//! {"name": "greets-then-bot", "description": "…", "steps": [
//!   {"after": "2s", "join": "Kate"},
//!   {"say": "Hello ${customer.nickname}, how can I help?"},
//!   {"then": "bot"}
//! ]}
//! ```

use serde_json::{Map, Value};

/// The longest delay a step may carry.
const MAX_DELAY_MS: i64 = 365 * 86_400_000;
const MAX_STEPS: usize = 1000;
const MAX_NAME: usize = 64;
const MAX_TEXT: usize = 65_536;
const MAX_NICKNAME: usize = 256;
const MAX_URL: usize = 2048;
/// The compiled size a `match` regex may take (no pathological patterns).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The substitutions texts may use.
pub const SUBSTITUTIONS: &[&str] = &["customer.nickname", "chat.subject", "lastMessage.text"];

/// A scenario, checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub steps: Vec<Step>,
    /// The document as given (normalized JSON), shown by the admin API.
    pub document: Value,
    /// The steps as JSON, stored with each chat that runs them.
    steps_json: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Delay after the previous step, in ms.
    pub after_ms: i64,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// An agent with this nickname joins.
    Join(String),
    /// The agent writes this text.
    Say(String),
    /// The agent types for this long (TypingStarted, then TypingStopped).
    Typing(i64),
    /// The agent pushes this URL.
    PushUrl(String),
    /// The agent posts this notice.
    Notice(String),
    /// Wait for the customer's next Text (matching `pattern` when given).
    WaitFor { pattern: Option<String>, timeout_ms: Option<i64>, complete_on_timeout: bool },
    /// The agent leaves (the chat waits for an agent again).
    Leave,
    /// The chat is closed (everyone leaves; Idle).
    Complete,
    /// The bot's rules answer from here on (an agent joins first if none is there).
    ThenBot,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Join(_) => "join",
            Action::Say(_) => "say",
            Action::Typing(_) => "typing",
            Action::PushUrl(_) => "pushUrl",
            Action::Notice(_) => "notice",
            Action::WaitFor { .. } => "waitFor",
            Action::Leave => "leave",
            Action::Complete => "complete",
            Action::ThenBot => "then",
        }
    }
}

const ACTIONS: &[&str] =
    &["join", "say", "typing", "pushUrl", "notice", "waitFor", "leave", "complete", "then"];

/// Whether `name` can name a scenario: 1 to 64 of a-z, 0-9, `-`, `_`, `.` (not first).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Scenario {
    /// Parses a scenario document. `name`, when given (the file's or the URL's), must match the
    /// document's `name` if it has one.
    pub fn parse(doc: &Value, name: Option<&str>) -> Result<Scenario, String> {
        let Value::Object(map) = doc else {
            return Err("a scenario is a JSON object with \"name\" and \"steps\"".into());
        };
        for key in map.keys() {
            if !matches!(key.as_str(), "name" | "description" | "steps") {
                return Err(format!(
                    "unknown field {key:?}; a scenario has \"name\", \"description\" and \"steps\""
                ));
            }
        }
        let given = match map.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err("\"name\" must be a string".into()),
        };
        let name = match (given, name) {
            (Some(a), Some(b)) if a != b => {
                return Err(format!("its name {a:?} is not {b:?}, the name it is stored under"))
            }
            (Some(a), _) | (None, Some(a)) => a.to_string(),
            (None, None) => return Err("\"name\" is required".into()),
        };
        if !valid_name(&name) {
            return Err(format!(
                "name {name:?} must be 1 to {MAX_NAME} letters, digits, '-', '_' or '.'"
            ));
        }
        let description = match map.get("description") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) if s.len() <= 4096 => s.clone(),
            Some(_) => return Err("\"description\" must be a string of at most 4096 bytes".into()),
        };
        let steps = match map.get("steps") {
            Some(Value::Array(steps)) => steps,
            None => return Err("\"steps\" is required (an array; [] for none)".into()),
            Some(_) => return Err("\"steps\" must be an array".into()),
        };
        if steps.len() > MAX_STEPS {
            return Err(format!("it has {} steps; at most {MAX_STEPS}", steps.len()));
        }
        let mut parsed = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let n = i + 1;
            let step = parse_step(step).map_err(|e| format!("step {n}: {e}"))?;
            if let Some(last) = parsed.last().map(|s: &Step| &s.action) {
                if matches!(last, Action::Complete | Action::ThenBot) {
                    return Err(format!(
                        "step {n}: it comes after a \"{}\" step and would never run",
                        last.name()
                    ));
                }
            }
            parsed.push(step);
        }
        let steps_json = Value::Array(steps.clone()).to_string();
        let mut document = Map::new();
        document.insert("name".into(), Value::String(name.clone()));
        document.insert("description".into(), Value::String(description.clone()));
        document.insert("steps".into(), Value::Array(steps.clone()));
        Ok(Scenario {
            name,
            description,
            steps: parsed,
            document: Value::Object(document),
            steps_json,
        })
    }

    /// Parses the steps stored with a chat (written by `parse`, so they are valid).
    pub fn steps_from_stored(json: &str) -> Result<Vec<Step>, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let Value::Array(steps) = value else { return Err("not an array".into()) };
        steps.iter().map(parse_step).collect()
    }

    /// The steps as stored with a chat that runs them.
    pub fn stored_steps(&self) -> &str {
        &self.steps_json
    }
}

fn parse_step(step: &Value) -> Result<Step, String> {
    let Value::Object(map) = step else {
        return Err("a step is a JSON object with one action, e.g. {\"say\": \"Hello\"}".into());
    };
    let actions: Vec<&str> =
        map.keys().map(String::as_str).filter(|k| ACTIONS.contains(k)).collect();
    let action = match actions.as_slice() {
        [one] => *one,
        [] => {
            return Err(format!(
                "no action; a step has one of {}",
                ACTIONS.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ")
            ))
        }
        many => return Err(format!("{} actions in one step; one per step", many.len())),
    };
    let allowed: &[&str] = match action {
        "waitFor" => &["after", "waitFor", "match", "timeout", "onTimeout"],
        _ => &["after", action],
    };
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(format!("unknown field {key:?} in a \"{action}\" step"));
        }
    }
    let after_ms = match map.get("after") {
        None => 0,
        Some(v) => duration(v).map_err(|e| format!("after {e}"))?,
    };
    let value = &map[action];
    let action = match action {
        "join" => Action::Join(text(value, "join", MAX_NICKNAME)?),
        "say" => Action::Say(text(value, "say", MAX_TEXT)?),
        "notice" => Action::Notice(text(value, "notice", MAX_TEXT)?),
        "typing" => Action::Typing(duration(value).map_err(|e| format!("typing {e}"))?),
        "pushUrl" => Action::PushUrl(url(value)?),
        "waitFor" => {
            if value != "customerMessage" {
                return Err("waitFor must be \"customerMessage\"".into());
            }
            let pattern = match map.get("match") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => {
                    regex::RegexBuilder::new(p)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .dfa_size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| {
                            let first =
                                e.to_string().lines().last().unwrap_or_default().trim().to_string();
                            format!("match {p:?} is not a valid regular expression: {first}")
                        })?;
                    Some(p.clone())
                }
                Some(_) => return Err("match must be a string (a regular expression)".into()),
            };
            let timeout_ms = match map.get("timeout") {
                None | Some(Value::Null) => None,
                Some(v) => Some(duration(v).map_err(|e| format!("timeout {e}"))?),
            };
            let complete_on_timeout = match map.get("onTimeout") {
                None | Some(Value::Null) => false,
                Some(v) if v == "complete" => true,
                Some(v) if v == "continue" => false,
                Some(_) => {
                    return Err("onTimeout must be \"complete\" or \"continue\"".into());
                }
            };
            if complete_on_timeout && timeout_ms.is_none() {
                return Err("onTimeout needs a timeout".into());
            }
            Action::WaitFor { pattern, timeout_ms, complete_on_timeout }
        }
        "leave" => flag(value, "leave").map(|_| Action::Leave)?,
        "complete" => flag(value, "complete").map(|_| Action::Complete)?,
        "then" => {
            if value != "bot" {
                return Err("then must be \"bot\"".into());
            }
            Action::ThenBot
        }
        _ => unreachable!("the actions are listed in ACTIONS"),
    };
    Ok(Step { after_ms, action })
}

fn text(value: &Value, what: &str, max: usize) -> Result<String, String> {
    let Value::String(s) = value else { return Err(format!("{what} must be a string")) };
    if s.trim().is_empty() {
        return Err(format!("{what} must not be blank"));
    }
    if s.chars().count() > max {
        return Err(format!("{what} is longer than {max} characters"));
    }
    check_substitutions(s).map_err(|e| format!("{what}: {e}"))?;
    Ok(s.clone())
}

fn url(value: &Value) -> Result<String, String> {
    let Value::String(s) = value else { return Err("pushUrl must be a string".into()) };
    let lower = s.trim().to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://"))
        || s.chars().any(char::is_control)
        || s.len() > MAX_URL
    {
        return Err("pushUrl must be an http:// or https:// address".into());
    }
    Ok(s.trim().to_string())
}

fn flag(value: &Value, what: &str) -> Result<(), String> {
    if value == &Value::Bool(true) {
        Ok(())
    } else {
        Err(format!("{what} must be true"))
    }
}

/// A delay: `"2s"`, `"1500ms"`, `"30m"`, or a number of milliseconds.
fn duration(value: &Value) -> Result<i64, String> {
    let ms = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => crate::config::parse_duration(s).map(|d| d.as_millis() as i64),
        _ => None,
    };
    match ms {
        Some(ms) if (0..=MAX_DELAY_MS).contains(&ms) => Ok(ms),
        _ => Err(format!(
            "must be a duration such as \"2s\", \"1500ms\" or a number of milliseconds (at most a \
             year), not {value}"
        )),
    }
}

/// Every `${…}` names a known substitution.
fn check_substitutions(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("\"${\" without a closing \"}\"".into());
        };
        let name = &after[..end];
        if !SUBSTITUTIONS.contains(&name) {
            return Err(format!(
                "unknown substitution ${{{name}}}; use {}",
                SUBSTITUTIONS.iter().map(|s| format!("${{{s}}}")).collect::<Vec<_>>().join(", ")
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// `text` with each `${name}` replaced by `lookup(name)`.
pub fn substitute(text: &str, mut lookup: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                out.push_str(&lookup(&after[..end]));
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether the customer's `text` satisfies a waitFor's `pattern` (an unanchored search).
/// Compiled patterns are kept per thread (the writer's), a few hundred at most.
pub fn matches(pattern: Option<&str>, text: &str) -> bool {
    thread_local! {
        static COMPILED: std::cell::RefCell<std::collections::HashMap<String, Option<regex::Regex>>> =
            Default::default();
    }
    let Some(p) = pattern else { return true };
    COMPILED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= 256 && !cache.contains_key(p) {
            cache.clear();
        }
        let re = cache.entry(p.to_string()).or_insert_with(|| {
            regex::RegexBuilder::new(p)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .ok()
        });
        re.as_ref().is_some_and(|re| re.is_match(text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(doc: Value) -> String {
        Scenario::parse(&doc, None).unwrap_err()
    }

    #[test]
    fn a_full_scenario_parses() {
        let s = Scenario::parse(
            &json!({"name": "all", "description": "every step", "steps": [
                {"after": "2s", "join": "Kate"},
                {"typing": 1500},
                {"say": "Hello ${customer.nickname}, about ${chat.subject}?"},
                {"pushUrl": "https://example.com/help"},
                {"notice": "Recorded"},
                {"waitFor": "customerMessage", "match": "(?i)bye", "timeout": "30s", "onTimeout": "complete"},
                {"say": "You said ${lastMessage.text}"},
                {"leave": true},
                {"after": "1m", "join": "Bob"},
                {"then": "bot"}
            ]}),
            None,
        )
        .unwrap();
        assert_eq!(s.name, "all");
        assert_eq!(s.steps.len(), 10);
        assert_eq!(s.steps[0], Step { after_ms: 2000, action: Action::Join("Kate".into()) });
        assert_eq!(s.steps[1].action, Action::Typing(1500));
        assert_eq!(
            s.steps[5].action,
            Action::WaitFor {
                pattern: Some("(?i)bye".into()),
                timeout_ms: Some(30_000),
                complete_on_timeout: true
            }
        );
        assert_eq!(s.steps[8].after_ms, 60_000);
        assert_eq!(Scenario::steps_from_stored(s.stored_steps()).unwrap(), s.steps);
    }

    #[test]
    fn every_mistake_is_named_with_its_step() {
        let cases = [
            (json!([]), "JSON object"),
            (json!({"steps": []}), "\"name\" is required"),
            (json!({"name": "Bad Name!", "steps": []}), "letters, digits"),
            (json!({"name": "x"}), "\"steps\" is required"),
            (json!({"name": "x", "steps": {}}), "must be an array"),
            (json!({"name": "x", "steps": [], "extra": 1}), "unknown field \"extra\""),
            (json!({"name": "x", "steps": [7]}), "step 1: a step is a JSON object"),
            (json!({"name": "x", "steps": [{}]}), "step 1: no action"),
            (json!({"name": "x", "steps": [{"say": "a", "join": "b"}]}), "step 1: 2 actions"),
            (
                json!({"name": "x", "steps": [{"say": "a"}, {"say": " "}]}),
                "step 2: say must not be blank",
            ),
            (json!({"name": "x", "steps": [{"say": 5}]}), "step 1: say must be a string"),
            (
                json!({"name": "x", "steps": [{"say": "${nope}"}]}),
                "step 1: say: unknown substitution ${nope}",
            ),
            (
                json!({"name": "x", "steps": [{"say": "a", "after": "-1s"}]}),
                "step 1: after must be a duration",
            ),
            (
                json!({"name": "x", "steps": [{"say": "a", "after": "soon"}]}),
                "step 1: after must be a duration",
            ),
            (json!({"name": "x", "steps": [{"typing": "x"}]}), "step 1: typing must be a duration"),
            (
                json!({"name": "x", "steps": [{"pushUrl": "javascript:alert(1)"}]}),
                "step 1: pushUrl must be an http",
            ),
            (
                json!({"name": "x", "steps": [{"waitFor": "agentMessage"}]}),
                "step 1: waitFor must be",
            ),
            (
                json!({"name": "x", "steps": [{"waitFor": "customerMessage", "match": "("}]}),
                "step 1: match \"(\" is not a valid regular expression",
            ),
            (
                json!({"name": "x", "steps": [{"waitFor": "customerMessage", "onTimeout": "complete"}]}),
                "step 1: onTimeout needs a timeout",
            ),
            (
                json!({"name": "x", "steps": [{"waitFor": "customerMessage", "timeout": "1s", "onTimeout": "panic"}]}),
                "step 1: onTimeout must be",
            ),
            (json!({"name": "x", "steps": [{"leave": false}]}), "step 1: leave must be true"),
            (json!({"name": "x", "steps": [{"then": "human"}]}), "step 1: then must be \"bot\""),
            (
                json!({"name": "x", "steps": [{"complete": true}, {"say": "hi"}]}),
                "step 2: it comes after a \"complete\" step",
            ),
            (
                json!({"name": "x", "steps": [{"say": "hi", "match": "x"}]}),
                "step 1: unknown field \"match\"",
            ),
        ];
        for (doc, want) in cases {
            let got = err(doc.clone());
            assert!(got.contains(want), "{doc}: {got:?} does not say {want:?}");
        }
        let got = Scenario::parse(&json!({"name": "a", "steps": []}), Some("b")).unwrap_err();
        assert!(got.contains("not \"b\""), "{got}");
    }

    #[test]
    fn a_huge_regex_is_refused_not_compiled_forever() {
        let doc = json!({"name": "x", "steps": [{"waitFor": "customerMessage", "match": "(\\w{100}){100}"}]});
        assert!(err(doc).contains("not a valid regular expression"));
    }

    #[test]
    fn substitutions_and_matching() {
        let out = substitute("Hi ${customer.nickname}, re ${chat.subject}: ${x", |k| match k {
            "customer.nickname" => "Ada".into(),
            "chat.subject" => "tea".into(),
            _ => "?".into(),
        });
        assert_eq!(out, "Hi Ada, re tea: ${x");
        assert!(matches(None, "anything"));
        assert!(matches(Some("bye"), "ok, bye now"), "unanchored");
        assert!(!matches(Some("bye"), "BYE"), "case-sensitive");
        assert!(matches(Some("(?i)bye"), "BYE"));
    }
}
