//! The OpenAPI document (src/api/openapi.json, served at `/__admin/openapi.json`) against the
//! running emulator: every operation and every error row of the customer API and of the admin
//! routes of docs/api.md (clock, waits, event streams, scenarios, fault rules, journal, the
//! admin token), is driven for real, and each answer must be one the document describes for that
//! path and method: the HTTP status documented, the Content-Type and body as documented
//! (validated with the `jsonschema` crate; each event of a stream and its JSON data too), the
//! documented headers present. At the end every status the document
//! lists for every operation must have been seen, so the document promises nothing the server
//! cannot do, and every route of the server (`gws_emulator::api::ROUTES`) must be in the document.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use jsonschema::{Draft, Registry, Validator};
use serde_json::{json, Value};

use crate::helpers::{try_request, wait_for, Response, Server, APIKEY};
use crate::sse::{SseEvent, SseStream};

const DOC_FILE: &str = include_str!("../../src/api/openapi.json");

const CHATS: &str = "/api/v2/chats";
const CHAT: &str = "/api/v2/chats/{id}";
const TRANSCRIPT: &str = "/api/v2/chats/{id}/messages";
const HEALTH: &str = "/__admin/health";
const ADMIN_CHATS: &str = "/__admin/chats";
const ADMIN_CHAT: &str = "/__admin/chats/{id}";
const AGENT: &str = "/__admin/chats/{id}/agent";
const AGENT_TRANSCRIPT: &str = "/__admin/chats/{id}/messages";
const OPENAPI: &str = "/__admin/openapi.json";
const CLOCK: &str = "/__admin/clock";
const CHAT_CLOCK: &str = "/__admin/chats/{id}/clock";
const CHAT_EVENTS: &str = "/__admin/chats/{id}/events";
const EVENTS: &str = "/__admin/events";
const SCENARIOS: &str = "/__admin/scenarios";
const SCENARIO: &str = "/__admin/scenarios/{name}";
const CHAT_SCENARIO: &str = "/__admin/chats/{id}/scenario";
const FAULTS: &str = "/__admin/faults";
const FAULT: &str = "/__admin/faults/{id}";
const REQUESTS: &str = "/__admin/requests";

// ---- the document's schemas as JSON Schema ----

/// The name the whole document is registered under, so every `#/components/...` resolves.
const DOC_URI: &str = "urn:gws-emulator:openapi";

/// OpenAPI 3.0's Schema Object extends JSON Schema draft Wright-00, between drafts 4 and 6: the
/// validators use draft 4, where `integer` excludes `1.0` and a `$ref`'s siblings are ignored, as
/// in OpenAPI 3.0. Before they are built, the document's OpenAPI-only keywords are translated
/// (`to_json_schema`); annotations (`example`, `discriminator`, `description`) are left, as
/// JSON Schema ignores keywords it does not know.
const DRAFT: Draft = Draft::Draft4;

/// Translates OpenAPI-only keywords in every schema of `v` to JSON Schema: `nullable: true` adds
/// `"null"` to the `type` (and to an `enum`; without a `type`, null is allowed beside the
/// schema); `format: int64` bounds an integer to 64 bits. A keyword that changes what a schema
/// accepts and has no translation here stops the test, so the document cannot grow a constraint
/// that is silently not checked.
fn to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for keyword in ["readOnly", "writeOnly"] {
                assert!(
                    !map.get(keyword).is_some_and(Value::is_boolean),
                    "the document uses {keyword}: translate it in to_json_schema first"
                );
            }
            for x in map.values_mut() {
                to_json_schema(x);
            }
            if map.get("format") == Some(&json!("int64"))
                && map.get("type") == Some(&json!("integer"))
            {
                map.entry("minimum").or_insert(json!(i64::MIN));
                map.entry("maximum").or_insert(json!(i64::MAX));
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                if let Some(Value::Array(options)) = map.get_mut("enum") {
                    if !options.contains(&Value::Null) {
                        options.push(Value::Null);
                    }
                }
                match map.get_mut("type") {
                    Some(Value::String(t)) => {
                        let t = std::mem::take(t);
                        map.insert("type".into(), json!([t, "null"]));
                    }
                    Some(Value::Array(types)) => types.push(json!("null")),
                    _ => {
                        *v =
                            json!({"anyOf": [{"type": "null"}, Value::Object(std::mem::take(map))]})
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

/// A chat id: a UUID in its hyphenated form (what the document's `format: uuid` means here).
fn is_uuid(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}

/// A validator of `schema` (draft 4, formats checked, `uuid` as `is_uuid`), resolving
/// references in `registry`.
fn build(schema: &Value, registry: Option<&Registry>) -> Validator {
    let mut options = jsonschema::options()
        .with_draft(DRAFT)
        .should_validate_formats(true)
        .with_format("uuid", is_uuid);
    if let Some(registry) = registry {
        options = options.with_registry(registry);
    }
    options.build(schema).unwrap_or_else(|e| panic!("the schema {schema} does not build: {e}"))
}

/// One way an instance breaks a schema: where (`$` is the instance itself), which keyword, and
/// the validator's message.
#[derive(Debug)]
struct Problem {
    at: String,
    keyword: String,
    message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message: String = self.message.chars().take(160).collect();
        let cut = if message.len() < self.message.len() { "…" } else { "" };
        write!(f, "{} {}: {message}{cut}", self.at, self.keyword)
    }
}

/// Every way `v` breaks `validator`.
fn problems(validator: &Validator, v: &Value) -> Vec<Problem> {
    validator
        .iter_errors(v)
        .map(|e| Problem {
            at: format!("${}", e.instance_path()),
            keyword: e.kind().keyword().to_string(),
            message: e.to_string(),
        })
        .collect()
}

/// The document's schemas, each reached by its JSON pointer into the document.
struct Schemas {
    registry: Registry<'static>,
    built: HashMap<String, Validator>,
}

impl Schemas {
    fn new(doc: &Value) -> Schemas {
        let mut translated = doc.clone();
        to_json_schema(&mut translated);
        let registry = Registry::new()
            .add(DOC_URI, DRAFT.create_resource(translated))
            .and_then(|r| r.prepare())
            .expect("the document registers as a JSON Schema resource");
        Schemas { registry, built: HashMap::new() }
    }

    /// Every way `v` breaks the schema at `pointer` (e.g. `/components/schemas/Message`).
    fn problems(&mut self, pointer: &str, v: &Value) -> Vec<Problem> {
        let registry = &self.registry;
        let validator = self.built.entry(pointer.to_string()).or_insert_with(|| {
            build(&json!({"$ref": format!("{DOC_URI}#{}", fragment(pointer))}), Some(registry))
        });
        problems(validator, v)
    }

    fn conforms(&mut self, pointer: &str, v: &Value) -> bool {
        self.problems(pointer, v).is_empty()
    }
}

/// A JSON pointer as a URI fragment: percent-encoded but for the characters a fragment allows.
fn fragment(pointer: &str) -> String {
    pointer
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `name` as one segment of a JSON pointer.
fn segment(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Follows `$ref`s (local ones only: `#/components/...`) from the value at `pointer`; returns
/// where it ends and the value there.
fn resolve(doc: &Value, mut pointer: String) -> (String, &Value) {
    loop {
        let v = doc.pointer(&pointer).unwrap_or_else(|| panic!("{pointer} points nowhere"));
        let Some(r) = v.get("$ref").and_then(Value::as_str) else { return (pointer, v) };
        pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("not a local $ref: {r}")).into();
    }
}

#[test]
fn the_validator_rejects_what_the_document_does_not_allow() {
    let doc: Value = serde_json::from_str(DOC_FILE).expect("src/api/openapi.json is JSON");
    let mut schemas = Schemas::new(&doc);
    let mut ok = |name: &str, v: Value| {
        let problems = schemas.problems(&format!("/components/schemas/{name}"), &v);
        assert!(problems.is_empty(), "{name} should accept {v}: {problems:#?}");
    };
    let customer = json!({"nickname": "James", "participantId": "1", "type": "Customer"});
    let message = json!({"index": 1, "type": "Text", "from": customer, "text": "hi", "utcTime": 1718000000000i64});
    ok("Message", message.clone());
    ok(
        "Message",
        json!({"index": 2, "type": "PushUrl", "from": customer, "url": "https://x", "utcTime": 0}),
    );
    ok("Ack", json!({"statusCode": 0}));
    ok("Error", json!({"statusCode": 2, "statusMessage": "no"}));
    let chat = json!({"capabilities": [], "id": "5b0c8a3e-2f1d-4c6b-9e7a-0d1c2b3a4f5e", "participants": [customer], "state": "Idle"});
    ok("Chat", chat.clone());
    ok("ChatOperationRequest", json!({"operationName": "SendMessage", "text": "Hi"}));
    ok("ChatOperationRequest", json!({"operationName": "Complete", "text": 5}));
    ok("AgentAction", json!({"action": "pushUrl", "url": "HTTPS://example.com/a?b"}));
    ok(
        "RequestChatRequest",
        json!({"operationName": "RequestChat", "nickname": "J", "subject": null, "userData": {"a": [1]}}),
    );
    ok("ChatOperationRequest", json!({"operationName": "SendMessage", "text": "x".repeat(20000)}));
    for d in
        [json!("30m"), json!("1500ms"), json!("7d"), json!("0"), json!(0), json!(31536000000i64)]
    {
        ok("Duration", d);
    }
    ok("SetClockRequest", json!({"freeze": true}));
    ok("SetClockRequest", json!({"advance": "5s", "other": 1}));
    ok("ScenarioStep", json!({"after": "1s", "join": "Kate"}));
    ok("ScenarioStep", json!({"waitFor": "customerMessage", "match": "(?i)x", "onTimeout": null}));
    ok("ScenarioDocument", json!({"steps": []}));
    ok("FaultRuleRequest", json!({"fault": {"status": 503, "statusCode": null}, "times": 1}));
    ok("FaultRuleRequest", json!({"match": {"operation": "GetChat"}, "fault": {"delay": 300000}}));
    ok("ServerSentEvent", json!({"event": "state", "data": "{\"chatId\":\"x\"}"}));
    ok(
        "ServerSentEvent",
        json!({"event": "message", "id": "5b0c8a3e-2f1d-4c6b-9e7a-0d1c2b3a4f5e:12", "data": "{}"}),
    );
    ok("StateEvent", json!({"chatId": "5b0c8a3e-2f1d-4c6b-9e7a-0d1c2b3a4f5e", "state": "Idle"}));

    // `why`: where and which keyword ("$/index minimum"), and a part of the message if need be.
    let mut bad = |name: &str, v: Value, why: &str| {
        let problems = schemas.problems(&format!("/components/schemas/{name}"), &v);
        assert!(
            problems.iter().any(|p| p.to_string().contains(why)),
            "{name} should refuse {v} ({why}): {problems:#?}"
        );
    };
    let with = |k: &str, v: Value| {
        let mut m = message.clone();
        m[k] = v;
        m
    };
    bad("Message", with("index", json!(0)), "$/index minimum");
    bad("Message", with("index", json!("1")), "$/index type");
    bad("Message", with("utcTime", json!(1.5)), "$/utcTime type");
    bad("Message", with("utcTime", json!(1718000000000.0)), "$/utcTime type");
    bad("Message", with("utcTime", json!(u64::MAX)), "$/utcTime maximum");
    bad("Message", with("type", json!("Typing")), "$/type enum");
    bad("Message", with("text", json!(null)), "$/text type");
    bad("Message", with("extra", json!(1)), "$ additionalProperties");
    bad(
        "Message",
        with("from", json!({"nickname": "J", "participantId": 1, "type": "Customer"})),
        "$/from/participantId type",
    );
    bad(
        "Message",
        with("from", json!({"nickname": "J", "participantId": "01", "type": "Customer"})),
        "$/from/participantId pattern",
    );
    bad(
        "Message",
        with("from", json!({"nickname": "J", "participantId": "1", "type": "Bot"})),
        "$/from/type enum",
    );
    bad(
        "Message",
        json!({"index": 1, "type": "Text", "from": customer}),
        "$ required: \"utcTime\"",
    );
    bad("Ack", json!({"statusCode": 1}), "$/statusCode enum");
    bad("Ack", json!({"statusCode": 0, "statusMessage": "ok"}), "$ additionalProperties");
    bad("Ack", json!([]), "$ type");
    bad("Error", json!({"statusCode": 5, "statusMessage": "no"}), "$/statusCode enum");
    bad("Error", json!({"statusCode": 2}), "$ required: \"statusMessage\"");
    bad("Error", json!({"statusCode": 2, "statusMessage": ""}), "$/statusMessage minLength");
    bad("Error", json!({"statusCode": "2", "statusMessage": "no"}), "$/statusCode type");
    let mut twice = chat.clone();
    twice["capabilities"] = json!(["Complete", "Complete"]);
    bad("Chat", twice, "$/capabilities uniqueItems");
    let mut not_uuid = chat.clone();
    not_uuid["id"] = json!("5b0c8a3e");
    bad("Chat", not_uuid, "$/id format");
    let mut simple = chat.clone();
    simple["id"] = json!("5b0c8a3e2f1d4c6b9e7a0d1c2b3a4f5e");
    bad("Chat", simple, "$/id format");
    let mut state = chat;
    state["state"] = json!("Open");
    bad("Chat", state, "$/state enum");
    bad(
        "ChatDetailResponse",
        json!({"chat": {}, "statusCode": 0}),
        "$/chat required: \"readCursors\"",
    );
    // Request bodies: oneOf by operationName and by action; blank and too long texts.
    let none = "oneOf: ";
    let not_any = "is not valid under any of the schemas listed in the 'oneOf' keyword";
    bad("ChatOperationRequest", json!({"operationName": "SendMessage", "text": "  \n"}), not_any);
    bad("ChatOperationRequest", json!({"operationName": "RequestChat", "nickname": "J"}), not_any);
    bad("ChatOperationRequest", json!({"operationName": "SendMessage", "text": 5}), none);
    bad("AgentAction", json!({"action": "pushUrl", "url": "ftp://example.com"}), none);
    bad("AgentAction", json!({"action": "pushUrl", "url": "https://a\u{7}b"}), none);
    bad("AgentAction", json!({"action": "dance"}), none);
    bad(
        "RequestChatRequest",
        json!({"operationName": "RequestChat", "nickname": "J", "userData": "x"}),
        "$/userData type",
    );
    bad(
        "RequestChatRequest",
        json!({"operationName": "RequestChat", "nickname": "é".repeat(257)}),
        "$/nickname maxLength",
    );
    // Durations, clock changes, scenarios, fault rules, events.
    for d in
        [json!("-1s"), json!("1.5s"), json!("soon"), json!(-1), json!(1.5), json!(31536000001i64)]
    {
        bad("Duration", d, none);
    }
    bad("SetClockRequest", json!({"other": 1}), "anyOf");
    bad("SetClockRequest", json!({"freeze": "yes"}), "$/freeze type");
    bad("ChatClockRequest", json!({}), "$ required: \"advance\"");
    bad("ScenarioStep", json!({"join": "Kate", "say": "Hi"}), none);
    bad("ScenarioStep", json!({"after": "1s"}), none);
    bad("ScenarioStep", json!({"say": "  "}), none);
    bad("ScenarioStep", json!({"leave": false}), none);
    bad("ScenarioStep", json!({"then": "human"}), none);
    bad("ScenarioDocument", json!({"name": ".x", "steps": []}), "$/name pattern");
    bad("ScenarioDocument", json!({"steps": [], "extra": 1}), "$ additionalProperties");
    bad(
        "FaultRuleRequest",
        json!({"match": {"operation": "Fly"}, "fault": {"drop": "after"}}),
        "$/match/operation enum",
    );
    bad("FaultRuleRequest", json!({"fault": {"status": 600}}), "$/fault oneOf");
    bad("FaultRuleRequest", json!({"fault": {"status": 503, "drop": "after"}}), "$/fault oneOf");
    bad("FaultRuleRequest", json!({"fault": {"delay": 300001}}), "$/fault oneOf");
    bad("FaultRuleRequest", json!({"fault": {"drop": "after"}, "times": 0}), "$/times minimum");
    bad("ServerSentEvent", json!({"event": "ping", "data": "{}"}), "$/event enum");
    bad("ServerSentEvent", json!({"event": "message", "id": "3", "data": "{}"}), "$/id pattern");
    bad("ServerSentEvent", json!({"event": "state", "data": "not json"}), "$/data pattern");
    // The error responses narrow statusCode per HTTP status (allOf).
    let (not_found, _) = resolve(&doc, "/components/responses/NotFound".into());
    let not_found = format!("{not_found}/content/application~1json/schema");
    assert!(schemas.conforms(&not_found, &json!({"statusCode": 6, "statusMessage": "gone"})));
    assert!(!schemas.conforms(&not_found, &json!({"statusCode": 2, "statusMessage": "gone"})));
    // The document's patterns, as the validator searches them (not anchored, ECMA 262 classes).
    let re = |p: &str, yes: &[&str], no: &[&str]| {
        let pattern = build(&json!({"type": "string", "pattern": p}), None);
        for t in yes {
            assert!(pattern.is_valid(&json!(t)), "{p} should match {t:?}");
        }
        for t in no {
            assert!(!pattern.is_valid(&json!(t)), "{p} should not match {t:?}");
        }
    };
    re("\\S", &["x", "  x ", "\u{a0}é"], &["", " \t\n", "\u{3000}"]);
    re("^[1-9][0-9]*$", &["1", "20", "999"], &["", "0", "01", "1a", " 1"]);
    re("^3\\.", &["3.0.3", "3.1"], &["2.0", "33.0"]);
    re(
        "^/api/v2/chats/[0-9a-f-]{36}$",
        &["/api/v2/chats/5b0c8a3e-2f1d-4c6b-9e7a-0d1c2b3a4f5e"],
        &["/api/v2/chats/5B0C8A3E-2f1d-4c6b-9e7a-0d1c2b3a4f5e", "/api/v2/chats/x"],
    );
    re(
        "^[Hh][Tt][Tt][Pp][Ss]?://[^\\x00-\\x1F\\x7F-\\x9F]*$",
        &["http://a", "HTTPS://b c"],
        &["https:/a", "https://a\u{1}", "https://\u{85}", " http://a"],
    );
    // The translation of OpenAPI's own keywords: nullable, and the 64-bit range of int64.
    let mut nullable = json!({"type": "string", "nullable": true, "enum": ["a"]});
    to_json_schema(&mut nullable);
    assert_eq!(nullable, json!({"type": ["string", "null"], "enum": ["a", null]}));
    let mut nullable_ref = json!({"allOf": [{"type": "integer"}], "nullable": true});
    to_json_schema(&mut nullable_ref);
    let nullable_ref = build(&nullable_ref, None);
    assert!(nullable_ref.is_valid(&json!(null)) && nullable_ref.is_valid(&json!(3)));
    assert!(!nullable_ref.is_valid(&json!("3")));
}

// ---- the document, and the checks of answers against it ----

/// One request: method, the document's path template, the real path, headers and body.
struct Req {
    method: &'static str,
    template: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn req(method: &'static str, template: &'static str, path: impl Into<String>) -> Req {
    Req { method, template, path: path.into(), headers: Vec::new(), body: Vec::new() }
}

fn get(template: &'static str, path: impl Into<String>) -> Req {
    req("GET", template, path)
}

fn post(template: &'static str, path: impl Into<String>, body: Value) -> Req {
    req("POST", template, path).body(body.to_string().into_bytes())
}

impl Req {
    fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = body.into();
        self.headers.push(("Content-Type", "application/json".into()));
        self
    }

    fn header(mut self, name: &'static str, value: &str) -> Req {
        self.headers.push((name, value.into()));
        self
    }
}

/// Every answer checked against the document; failures are collected so one run reports them all.
struct Checker {
    doc: Value,
    schemas: Schemas,
    failures: Vec<String>,
    /// (path template, method, HTTP status) seen and conforming.
    seen: BTreeSet<(String, String, String)>,
}

impl Checker {
    fn new(doc: Value) -> Checker {
        let schemas = Schemas::new(&doc);
        Checker { doc, schemas, failures: Vec::new(), seen: BTreeSet::new() }
    }

    /// Sends `r` and checks the answer against the document, and that it is the expected HTTP
    /// status and GWS `statusCode` (None: no body expected).
    fn run(&mut self, server: &Server, r: Req, status: u16, code: Option<i64>) -> Response {
        let headers: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = server.request(r.method, &r.path, &headers, &r.body);
        let what = format!("{} {} (as {} {})", r.method, shown_path(&r.path), r.method, r.template);
        let got_code =
            serde_json::from_slice::<Value>(&res.body).ok().map(|b| b["statusCode"].clone());
        if res.status != status || got_code.as_ref().and_then(Value::as_i64) != code {
            self.failures.push(format!(
                "{what}: expected HTTP {status} statusCode {code:?}, got HTTP {} {}",
                res.status,
                res.text().chars().take(300).collect::<String>()
            ));
        }
        let ops = self.operations(r.template);
        let documented = if ops.contains(&r.method.to_ascii_lowercase()) {
            vec![r.method.to_ascii_lowercase()]
        } else if res.status == 405 {
            self.check_allow(&res, &ops, &what);
            let with_405: Vec<String> = ops
                .iter()
                .filter(|m| {
                    self.doc["paths"][r.template][m.as_str()]["responses"].get("405").is_some()
                })
                .cloned()
                .collect();
            if with_405.is_empty() {
                self.failures.push(format!("{what}: no operation on {} documents 405", r.template));
            }
            with_405
        } else {
            self.failures
                .push(format!("{what}: the document has no {} on {}", r.method, r.template));
            return res;
        };
        for method in documented {
            match self.verdict(r.template, &method, &res) {
                Ok(()) => {
                    self.seen.insert((r.template.into(), method, res.status.to_string()));
                }
                Err(e) => self.failures.push(format!(
                    "{what} -> HTTP {}: {e}\n    body: {}",
                    res.status,
                    res.text().chars().take(400).collect::<String>()
                )),
            }
        }
        res
    }

    /// An unknown route: the document's `NotFound` answer.
    fn unknown_route(&mut self, server: &Server, method: &'static str, path: &str) {
        let res = server.request(method, path, &[("Content-Type", "application/json")], b"{}");
        let (response, _) = resolve(&self.doc, "/components/responses/NotFound".into());
        if let Err(e) = self.response_conforms(&response, &res) {
            self.failures.push(format!("{method} {path} (no route) -> HTTP {}: {e}", res.status));
        }
        if res.status != 404 {
            self.failures.push(format!("{method} {path} (no route): HTTP {}, not 404", res.status));
        }
    }

    /// The methods the document has on a path, lowercase.
    fn operations(&self, template: &str) -> Vec<String> {
        let item = self.doc["paths"][template].as_object().cloned().unwrap_or_default();
        item.keys().filter(|k| *k != "parameters").cloned().collect()
    }

    /// A 405's `Allow` lists exactly the methods the document has on the path.
    fn check_allow(&mut self, res: &Response, ops: &[String], what: &str) {
        let allow: BTreeSet<String> = res
            .header("Allow")
            .unwrap_or_default()
            .split(',')
            .map(|m| m.trim().to_ascii_lowercase())
            .collect();
        let documented: BTreeSet<String> = ops.iter().cloned().collect();
        if allow != documented {
            self.failures.push(format!("{what}: Allow {allow:?}, the document has {documented:?}"));
        }
    }

    fn verdict(&mut self, template: &str, method: &str, res: &Response) -> Result<(), String> {
        let at = format!("/paths/{}/{method}/responses", segment(template));
        let responses = &self.doc.pointer(&at).unwrap_or_else(|| panic!("no {at}"));
        let status = [res.status.to_string(), "default".to_string()]
            .into_iter()
            .find(|s| responses.get(s).is_some());
        let documented: Vec<&String> =
            responses.as_object().map(|o| o.keys().collect()).unwrap_or_default();
        let status = status.ok_or_else(|| {
            format!("HTTP {} is not documented (only {documented:?})", res.status)
        })?;
        let (response, _) = resolve(&self.doc, format!("{at}/{status}"));
        self.response_conforms(&response, res)
    }

    /// Whether `res` has the headers the response object at `pointer` documents, as documented.
    fn headers_conform(&mut self, pointer: &str, res: &Response) -> Result<(), String> {
        let response = self.doc.pointer(pointer).unwrap_or_else(|| panic!("no {pointer}"));
        let headers = response.get("headers").and_then(Value::as_object).cloned();
        for name in headers.iter().flat_map(|h| h.keys()) {
            let value = res
                .header(name)
                .ok_or_else(|| format!("the documented header {name} is missing"))?;
            let schema = format!("{pointer}/headers/{}/schema", segment(name));
            let problems = self.schemas.problems(&schema, &json!(value));
            if !problems.is_empty() {
                return Err(format!("header {name}: {}", summary(&problems)));
            }
        }
        Ok(())
    }

    /// Whether `res` is the response object at `pointer`: its headers, media type and body.
    fn response_conforms(&mut self, pointer: &str, res: &Response) -> Result<(), String> {
        self.headers_conform(pointer, res)?;
        let response = self.doc.pointer(pointer).unwrap_or_else(|| panic!("no {pointer}"));
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return match res.body.is_empty() {
                true => Ok(()),
                false => Err("a body where the document has none".into()),
            };
        };
        let content_type = res.header("Content-Type").unwrap_or_default();
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if !content.contains_key(media) {
            return Err(format!("Content-Type {content_type:?} is not documented"));
        }
        let schema = format!("{pointer}/content/{}/schema", segment(media));
        let body: Value =
            serde_json::from_slice(&res.body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let problems = self.schemas.problems(&schema, &body);
        match problems.is_empty() {
            true => Ok(()),
            false => Err(format!("body: {}", summary(&problems))),
        }
    }
}

impl Checker {
    /// Opens the event stream `r` (a GET) and checks it against the document's 200: the status,
    /// the documented headers, `Content-Type: text/event-stream`; then, once `trigger` ran (for a
    /// stream that starts empty), reads `count` events and checks each against the document's
    /// event schema and its `data` against the schema its name documents (`EVENT_DATA`). The
    /// connection is closed when it returns. Returns the events read.
    fn run_stream(
        &mut self,
        server: &Server,
        r: Req,
        count: usize,
        trigger: impl FnOnce(),
    ) -> Vec<SseEvent> {
        let headers: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let what = format!("{} {} (as {} {})", r.method, shown_path(&r.path), r.method, r.template);
        let mut stream = SseStream::open(server.port, &r.path, &headers);
        let head = Response {
            status: stream.status,
            headers: stream
                .head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect(),
            body: Vec::new(),
        };
        let pointer = format!("/paths/{}/get/responses/200", segment(r.template));
        let (pointer, _) = resolve(&self.doc, pointer);
        let mut failures = Vec::new();
        if head.status != 200 {
            failures.push(format!("HTTP {}, not 200: {}", head.status, stream.error_body()));
            self.failures.extend(failures.into_iter().map(|f| format!("{what}: {f}")));
            return Vec::new();
        }
        if let Err(e) = self.headers_conform(&pointer, &head) {
            failures.push(e);
        }
        let media = head.header("Content-Type").unwrap_or_default().to_string();
        if media.split(';').next().unwrap_or_default().trim() != "text/event-stream" {
            failures.push(format!("Content-Type {media:?}, not text/event-stream"));
        }
        let schema = format!("{pointer}/content/text~1event-stream/schema");
        if self.doc.pointer(&schema).is_none() {
            failures.push("the document has no text/event-stream answer here".into());
        }
        trigger();
        let mut events = Vec::new();
        for n in 0..count {
            let Some(event) = stream.next_event(Duration::from_secs(10)) else {
                failures.push(format!("event {n} did not come within 10 s (got {events:?})"));
                break;
            };
            let mut delivered = json!({"event": event.event, "data": event.data});
            if let Some(id) = &event.id {
                delivered["id"] = json!(id);
            }
            let problems = self.schemas.problems(&schema, &delivered);
            if !problems.is_empty() {
                failures.push(format!("event {n} {delivered}: {}", summary(&problems)));
            }
            match EVENT_DATA.iter().find(|(name, _)| *name == event.event) {
                None => failures.push(format!("event {n}: no data schema for {:?}", event.event)),
                Some((_, data_schema)) => match serde_json::from_str::<Value>(&event.data) {
                    Err(e) => failures.push(format!("event {n}: data is not JSON ({e})")),
                    Ok(data) => {
                        let at = format!("/components/schemas/{data_schema}");
                        let problems = self.schemas.problems(&at, &data);
                        if !problems.is_empty() {
                            failures.push(format!("event {n} data {data}: {}", summary(&problems)));
                        }
                    }
                },
            }
            events.push(event);
        }
        if failures.is_empty() {
            self.seen.insert((r.template.into(), "get".into(), "200".into()));
        }
        self.failures.extend(failures.into_iter().map(|f| format!("{what}: {f}")));
        events
    }
}

/// The schema of an event's `data`, by the event's name, as the document's `ServerSentEvent`
/// says.
const EVENT_DATA: &[(&str, &str)] =
    &[("message", "MessageEvent"), ("state", "StateEvent"), ("chat", "ChatSummary")];

/// The first few of a body's problems (a drift usually repeats in every message).
fn summary(problems: &[Problem]) -> String {
    let more = match problems.len() {
        n if n > 3 => format!("; and {} more", n - 3),
        _ => String::new(),
    };
    let first: Vec<String> = problems.iter().take(3).map(Problem::to_string).collect();
    format!("{}{more}", first.join("; "))
}

fn shown_path(path: &str) -> String {
    if path.len() > 90 {
        format!("{}…", &path[..90])
    } else {
        path.to_string()
    }
}

fn fetch_doc(server: &Server) -> Value {
    let res = server.get(OPENAPI);
    assert_eq!(res.status, 200, "GET {OPENAPI}: {}", res.text());
    assert_eq!(res.header("Content-Type"), Some("application/json"));
    assert!(res.body == DOC_FILE.as_bytes(), "the served document is src/api/openapi.json");
    serde_json::from_slice(&res.body).expect("the document is valid JSON")
}

/// The routes the server registers (`gws_emulator::api::ROUTES`): path -> methods (uppercase).
fn server_routes() -> BTreeMap<String, BTreeSet<String>> {
    gws_emulator::api::ROUTES
        .iter()
        .map(|r| (r.path.to_string(), r.endpoints.iter().map(|e| e.method().to_string()).collect()))
        .collect()
}

#[test]
fn the_document_is_openapi_3_and_describes_every_route_of_the_server() {
    let server = Server::manual();
    let doc = fetch_doc(&server);
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "OpenAPI 3.x, not {version}");
    assert_eq!(doc["servers"][0]["url"], "http://127.0.0.1:8888");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    // Also with a trailing slash, like every path.
    let res = server.get(&format!("{OPENAPI}/"));
    assert!(res.status == 200 && res.body == DOC_FILE.as_bytes(), "GET {OPENAPI}/");

    // Every route of the server, with its methods (and OPTIONS), is in the document, and nothing else.
    let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item.as_object().unwrap().keys().filter(|k| *k != "parameters");
            (path.clone(), methods.map(|m| m.to_ascii_uppercase()).collect())
        })
        .collect();
    let mut expected = server_routes();
    for methods in expected.values_mut() {
        methods.insert("OPTIONS".into());
    }
    assert_eq!(documented, expected, "the document's paths and methods are the server's routes");

    // Every $ref resolves; every operation has a unique operationId and documents its errors
    // with the shared Error schema; every example request body is valid for its schema.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for r in &refs {
        resolve(
            &doc,
            r.strip_prefix('#').unwrap_or_else(|| panic!("not a local $ref: {r}")).into(),
        );
    }
    let mut schemas = Schemas::new(&doc);
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap().iter().filter(|(k, _)| *k != "parameters") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
            let at = format!("/paths/{}/{method}", segment(path));
            for status in op["responses"].as_object().unwrap().keys() {
                let (_, response) = resolve(&doc, format!("{at}/responses/{status}"));
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/json"]["schema"];
                    assert_eq!(
                        schema["allOf"][0]["$ref"], "#/components/schemas/Error",
                        "{method} {path} {status}"
                    );
                }
            }
            if op.get("requestBody").is_some() {
                let (body, media) = resolve(&doc, format!("{at}/requestBody"));
                let media = &media["content"]["application/json"];
                let schema = format!("{body}/content/application~1json/schema");
                for (name, example) in media["examples"].as_object().into_iter().flatten() {
                    let problems = schemas.problems(&schema, &example["value"]);
                    assert!(problems.is_empty(), "{method} {path}: example {name}: {problems:#?}");
                }
            }
        }
    }
    let codes = &doc["components"]["schemas"]["Error"]["properties"]["statusCode"]["enum"];
    assert_eq!(codes, &json!([1, 2, 3, 4, 6]));

    // The admin token: every admin operation may need it and documents its 401; the customer
    // operations document the apikey's.
    let scheme = &doc["components"]["securitySchemes"]["adminToken"];
    assert_eq!((&scheme["type"], &scheme["scheme"]), (&json!("http"), &json!("bearer")));
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap().iter().filter(|(k, _)| *k != "parameters") {
            let unauthorized = op["responses"]["401"]["$ref"].as_str();
            match (method.as_str(), path.starts_with("/__admin")) {
                ("options", _) => {
                    assert!(unauthorized.is_none(), "{path}: a preflight needs no key")
                }
                (_, true) => {
                    assert_eq!(op["security"], json!([{}, {"adminToken": []}]), "{method} {path}");
                    assert_eq!(unauthorized, Some("#/components/responses/AdminUnauthorized"));
                }
                (_, false) => {
                    assert_eq!(op.get("security"), None, "{method} {path}");
                    assert_eq!(unauthorized, Some("#/components/responses/Unauthorized"));
                }
            }
        }
    }
    // The events of a stream: the names `EVENT_DATA` knows, each with a documented data schema.
    let names = &doc["components"]["schemas"]["ServerSentEvent"]["properties"]["event"]["enum"];
    let known: Vec<&str> = EVENT_DATA.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, &json!(known));
    for (_, schema) in EVENT_DATA {
        assert!(doc["components"]["schemas"].get(schema).is_some(), "no schema {schema}");
    }
    // The document speaks for itself: no reference to files a user does not have.
    assert!(!DOC_FILE.contains("SPEC.md"), "the document mentions SPEC.md");
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                out.push(r.to_string());
            }
            map.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

// ---- every operation and every error row, for real ----

fn new_chat(c: &mut Checker, server: &Server, body: Value) -> String {
    let res = c.run(server, post(CHATS, CHATS, body), 200, Some(0));
    res.json()["id"].as_str().expect("an id").to_string()
}

/// The success answers of every operation, in every state, with every kind of message.
fn successes(c: &mut Checker) {
    let s = Server::manual();
    let id = new_chat(c, &s, json!({"operationName": "RequestChat", "nickname": "James"}));
    let full = json!({"operationName": "RequestChat", "nickname": "Zoë", "subject": "Billing",
                      "userData": {"customerId": 42, "tags": ["a", 1, null]}, "endpoint": "web"});
    let other = new_chat(c, &s, full);
    c.run(
        &s,
        post(CHATS, "/api/v2/chats/", json!({"operationName": "RequestChat", "nickname": "S"})),
        200,
        Some(0),
    );
    let chat = format!("/api/v2/chats/{id}");
    let agent = format!("/__admin/chats/{id}/agent");
    c.run(&s, get(CHAT, &chat), 200, Some(0));
    for op in ["SendStartTypingNotification", "SendStopTypingNotification"] {
        c.run(&s, post(CHAT, &chat, json!({"operationName": op})), 200, Some(0));
    }
    c.run(
        &s,
        post(CHAT, &chat, json!({"operationName": "SendMessage", "text": "Hello 👋 <b>"})),
        200,
        Some(0),
    );
    // No cap on texts by default (only the body limit).
    c.run(
        &s,
        post(CHAT, &chat, json!({"operationName": "SendMessage", "text": "é".repeat(20_000)})),
        200,
        Some(0),
    );
    for body in [
        json!({"action": "join", "nickname": "Ann"}),
        json!({"action": "typingStarted"}),
        json!({"action": "message", "text": "Hi James"}),
        json!({"action": "typingStopped"}),
        json!({"action": "pushUrl", "url": "https://example.com/help"}),
        json!({"action": "notice", "text": "Recorded for quality"}),
    ] {
        c.run(&s, post(AGENT, &agent, body), 200, Some(0));
    }
    c.run(&s, get(CHAT, format!("{chat}/")), 200, Some(0)); // Chatting
    c.run(&s, post(AGENT, &agent, json!({"action": "leave"})), 200, Some(0));
    c.run(&s, post(AGENT, &agent, json!({"action": "join", "nickname": null})), 200, Some(0));
    // A poll, a second poll (nothing new), then reads from an index.
    for path in [
        format!("{chat}/messages"),
        format!("{chat}/messages"),
        format!("{chat}/messages?index=0"),
        format!("{chat}/messages?index=5"),
        format!("{chat}/messages?index=999"),
    ] {
        c.run(&s, get(TRANSCRIPT, path), 200, Some(0));
    }
    for path in
        [format!("/__admin/chats/{id}/messages"), format!("/__admin/chats/{id}/messages?index=2")]
    {
        c.run(&s, get(AGENT_TRANSCRIPT, path), 200, Some(0));
    }
    c.run(&s, post(CHAT, &chat, json!({"operationName": "Complete"})), 200, Some(0));
    c.run(&s, get(CHAT, &chat), 200, Some(0)); // Idle
    c.run(
        &s,
        post(AGENT, format!("/__admin/chats/{other}/agent"), json!({"action": "complete"})),
        200,
        Some(0),
    );
    for path in [&id, &other] {
        c.run(&s, get(ADMIN_CHAT, format!("/__admin/chats/{path}")), 200, Some(0));
    }
    let all = c.run(&s, get(TRANSCRIPT, format!("{chat}/messages?index=1")), 200, Some(0)).json();
    let kinds: BTreeSet<&str> =
        all["messages"].as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap()).collect();
    let every: BTreeSet<&str> = [
        "Text",
        "ParticipantJoined",
        "ParticipantLeft",
        "TypingStarted",
        "TypingStopped",
        "PushUrl",
        "Notice",
    ]
    .into();
    assert_eq!(kinds, every, "the transcript checked holds every message type");
    c.run(&s, get(HEALTH, HEALTH), 200, Some(0));
    for q in [
        "",
        "?state=Idle",
        "?state=WaitingForAgent",
        "?state=Chatting",
        "?state=",
        "?limit=1",
        "?limit=10000&state=Idle",
    ] {
        c.run(&s, get(ADMIN_CHATS, format!("{ADMIN_CHATS}{q}")), 200, Some(0));
    }
    c.run(&s, get(OPENAPI, OPENAPI), 200, None);
    c.run(&s, req("DELETE", ADMIN_CHATS, ADMIN_CHATS), 200, Some(0));
    c.run(&s, req("DELETE", ADMIN_CHATS, "/__admin/chats/"), 200, Some(0));
    // Preflights on every path (any id at all).
    for (template, path) in [
        (CHATS, CHATS.to_string()),
        (CHAT, format!("{CHATS}/x")),
        (TRANSCRIPT, format!("{CHATS}/x/messages")),
        (HEALTH, HEALTH.into()),
        (ADMIN_CHATS, ADMIN_CHATS.into()),
        (ADMIN_CHAT, "/__admin/chats/x".into()),
        (AGENT, "/__admin/chats/x/agent".into()),
        (AGENT_TRANSCRIPT, "/__admin/chats/x/messages".into()),
        (OPENAPI, OPENAPI.into()),
        (CLOCK, CLOCK.into()),
        (CHAT_CLOCK, "/__admin/chats/x/clock".into()),
        (CHAT_EVENTS, "/__admin/chats/x/events".into()),
        (EVENTS, EVENTS.into()),
        (SCENARIOS, SCENARIOS.into()),
        (SCENARIO, "/__admin/scenarios/x".into()),
        (CHAT_SCENARIO, "/__admin/chats/x/scenario".into()),
        (FAULTS, FAULTS.into()),
        (FAULT, "/__admin/faults/x".into()),
        (REQUESTS, REQUESTS.into()),
    ] {
        let r = req("OPTIONS", template, path)
            .header("Origin", "http://widget.example.com")
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "apikey, contactcenterid, authorization");
        c.run(&s, r, 204, None);
    }
}

/// The bot's side: its messages and its pending work (due times null and not null).
fn bot_successes(c: &mut Checker) {
    let slow = Server::builder()
        .arg("--agent-join-delay", "5s")
        .arg("--system-message-interval", "20s")
        .arg("--idle-timeout", "30m")
        .start();
    let id = new_chat(c, &slow, json!({"operationName": "RequestChat", "nickname": "James"}));
    c.run(
        &slow,
        post(
            CHAT,
            format!("/api/v2/chats/{id}"),
            json!({"operationName": "SendMessage", "text": "Anyone?"}),
        ),
        200,
        Some(0),
    );
    let detail = c.run(&slow, get(ADMIN_CHAT, format!("/__admin/chats/{id}")), 200, Some(0)).json();
    let kinds: BTreeSet<&str> = detail["chat"]["pendingWork"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["agent_join", "bot_reply", "idle_timeout", "system_message"].into(),
        "{detail}"
    );
    c.run(&slow, get(HEALTH, HEALTH), 200, Some(0));

    let fast = Server::start();
    let id = new_chat(c, &fast, json!({"operationName": "RequestChat", "nickname": "James"}));
    c.run(
        &fast,
        post(
            CHAT,
            format!("/api/v2/chats/{id}"),
            json!({"operationName": "SendMessage", "text": "Are you there?"}),
        ),
        200,
        Some(0),
    );
    fast.wait_for_message(&id, "the bot's reply", |m| m["text"] == "Good question...");
    c.run(&fast, get(TRANSCRIPT, format!("/api/v2/chats/{id}/messages")), 200, Some(0));
    c.run(&fast, get(ADMIN_CHAT, format!("/__admin/chats/{id}")), 200, Some(0));
    c.run(&fast, get(ADMIN_CHATS, ADMIN_CHATS), 200, Some(0));
}

/// 400 (statusCode 1 and 2), 404 and 405 on every operation, and unknown routes.
fn refusals(c: &mut Checker) {
    let s = Server::manual();
    let id = new_chat(c, &s, json!({"operationName": "RequestChat", "nickname": "James"}));
    let chat = format!("/api/v2/chats/{id}");
    let agent = format!("/__admin/chats/{id}/agent");
    let raw = |template, path: &str, body: &[u8]| req("POST", template, path).body(body);
    // 400 / 1: missing or blank parameters; bodies that are not a JSON object.
    for body in [
        json!({"nickname": "J"}),
        json!({"operationName": " ", "nickname": "J"}),
        json!({"operationName": "RequestChat"}),
        json!({"operationName": "RequestChat", "nickname": "\t "}),
        json!({"operationName": "RequestChat", "nickname": null}),
    ] {
        c.run(&s, post(CHATS, CHATS, body), 400, Some(1));
    }
    for body in [
        json!({"text": "hi"}),
        json!({"operationName": ""}),
        json!({"operationName": "SendMessage"}),
        json!({"operationName": "SendMessage", "text": " \n"}),
    ] {
        c.run(&s, post(CHAT, &chat, body), 400, Some(1));
    }
    for body in [
        json!({}),
        json!({"action": "  "}),
        json!({"action": "pushUrl"}),
        json!({"action": "notice", "text": ""}),
    ] {
        c.run(&s, post(AGENT, &agent, body), 400, Some(1));
    }
    for body in [
        &b""[..],
        b"  ",
        b"not json",
        b"[1]",
        b"\"RequestChat\"",
        b"null",
        b"{\"operationName\":",
        b"\xff\xfe",
    ] {
        c.run(&s, raw(CHATS, CHATS, body), 400, Some(1));
        c.run(&s, raw(CHAT, &chat, body), 400, Some(1));
        c.run(&s, raw(AGENT, &agent, body), 400, Some(1));
    }
    // 400 / 2: unknown operations, wrong JSON types, values too long, a bad index, state or limit.
    let long = |n: usize| "é".repeat(n);
    for body in [
        json!({"operationName": "Fly", "nickname": "J"}),
        json!({"operationName": "SendMessage", "text": "hi"}),
        json!({"operationName": 3, "nickname": "J"}),
        json!({"operationName": "RequestChat", "nickname": 5}),
        json!({"operationName": "RequestChat", "nickname": "J", "userData": "x"}),
        json!({"operationName": "RequestChat", "nickname": "J", "subject": 12}),
        json!({"operationName": "RequestChat", "nickname": "J", "endpoint": {}}),
        json!({"operationName": "RequestChat", "nickname": long(257)}),
        json!({"operationName": "RequestChat", "nickname": "J", "subject": long(1025)}),
        json!({"operationName": "RequestChat", "nickname": "J", "endpoint": long(2049)}),
    ] {
        c.run(&s, post(CHATS, CHATS, body), 400, Some(2));
    }
    for body in [
        json!({"operationName": "Fly"}),
        json!({"operationName": "RequestChat", "nickname": "J"}),
        json!({"operationName": ["SendMessage"]}),
        json!({"operationName": "SendMessage", "text": 5}),
    ] {
        c.run(&s, post(CHAT, &chat, body), 400, Some(2));
    }
    for body in [
        json!({"action": "dance"}),
        json!({"action": 5}),
        json!({"action": "message", "text": "no agent yet"}),
        json!({"action": "leave"}),
        json!({"action": "join", "nickname": 7}),
        json!({"action": "join", "nickname": long(257)}),
    ] {
        c.run(&s, post(AGENT, &agent, body), 400, Some(2));
    }
    c.run(&s, post(AGENT, &agent, json!({"action": "join", "nickname": "Ann"})), 200, Some(0));
    for body in [
        json!({"action": "join", "nickname": "Bob"}),
        json!({"action": "pushUrl", "url": "ftp://example.com"}),
        json!({"action": "pushUrl", "url": "javascript:alert(1)"}),
        json!({"action": "pushUrl", "url": format!("https://{}", "a".repeat(2041))}),
        json!({"action": "notice", "text": false}),
    ] {
        c.run(&s, post(AGENT, &agent, body), 400, Some(2));
    }
    for index in ["-1", "abc", "1.5", "", "99999999999999999999", "1e2"] {
        c.run(&s, get(TRANSCRIPT, format!("{chat}/messages?index={index}")), 400, Some(2));
        c.run(
            &s,
            get(AGENT_TRANSCRIPT, format!("/__admin/chats/{id}/messages?index={index}")),
            400,
            Some(2),
        );
    }
    for q in ["state=Open", "state=idle", "limit=0", "limit=10001", "limit=x", "limit="] {
        c.run(&s, get(ADMIN_CHATS, format!("{ADMIN_CHATS}?{q}")), 400, Some(2));
    }
    // Not allowed in the chat's state: everything once it is Idle.
    c.run(&s, post(CHAT, &chat, json!({"operationName": "Complete"})), 200, Some(0));
    for op in ["SendStartTypingNotification", "SendStopTypingNotification", "Complete"] {
        c.run(&s, post(CHAT, &chat, json!({"operationName": op})), 400, Some(2));
    }
    c.run(
        &s,
        post(CHAT, &chat, json!({"operationName": "SendMessage", "text": "still there?"})),
        400,
        Some(2),
    );
    for body in [json!({"action": "complete"}), json!({"action": "join", "nickname": "Ann"})] {
        c.run(&s, post(AGENT, &agent, body), 400, Some(2));
    }
    // 404 / 6: unknown chats, and ids that are not UUIDs.
    for bad in [
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".into(),
        "12345".into(),
        "%3Cscript%3E".into(),
    ] {
        c.run(&s, get(CHAT, format!("/api/v2/chats/{bad}")), 404, Some(6));
        c.run(
            &s,
            post(CHAT, format!("/api/v2/chats/{bad}"), json!({"operationName": "Complete"})),
            404,
            Some(6),
        );
        c.run(&s, get(TRANSCRIPT, format!("/api/v2/chats/{bad}/messages?index=0")), 404, Some(6));
        c.run(&s, get(ADMIN_CHAT, format!("/__admin/chats/{bad}")), 404, Some(6));
        c.run(
            &s,
            post(AGENT, format!("/__admin/chats/{bad}/agent"), json!({"action": "join"})),
            404,
            Some(6),
        );
        c.run(&s, get(AGENT_TRANSCRIPT, format!("/__admin/chats/{bad}/messages")), 404, Some(6));
    }
    for path in [
        "/api",
        "/api/v2/chat",
        "/api/v1/chats",
        &format!("{chat}/typing"),
        &format!("{chat}/messages/1"),
        "/__admin",
        "/__admin/nope",
        "/__admin/openapi.yaml",
        "/nope",
    ] {
        c.unknown_route(&s, "GET", path);
        c.unknown_route(&s, "POST", path);
    }
    // 405 / 2: every other method on every path (with the Allow header the document implies).
    for (template, path) in [
        (CHATS, CHATS.to_string()),
        (CHAT, chat.clone()),
        (TRANSCRIPT, format!("{chat}/messages")),
        (HEALTH, HEALTH.into()),
        (ADMIN_CHATS, ADMIN_CHATS.into()),
        (ADMIN_CHAT, format!("/__admin/chats/{id}")),
        (AGENT, agent.clone()),
        (AGENT_TRANSCRIPT, format!("/__admin/chats/{id}/messages")),
        (OPENAPI, OPENAPI.into()),
        (CLOCK, CLOCK.into()),
        (CHAT_CLOCK, format!("/__admin/chats/{id}/clock")),
        (CHAT_EVENTS, format!("/__admin/chats/{id}/events")),
        (EVENTS, EVENTS.into()),
        (SCENARIOS, SCENARIOS.into()),
        (SCENARIO, "/__admin/scenarios/bot".into()),
        (CHAT_SCENARIO, format!("/__admin/chats/{id}/scenario")),
        (FAULTS, FAULTS.into()),
        (FAULT, "/__admin/faults/1".into()),
        (REQUESTS, REQUESTS.into()),
    ] {
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if !c.operations(template).contains(&method.to_ascii_lowercase()) {
                c.run(&s, req(method, template, format!("{path}/")).body(&b"{}"[..]), 405, Some(2));
                c.run(&s, req(method, template, path.clone()).body(&b"{}"[..]), 405, Some(2));
            }
        }
    }
}

/// 413 on every operation with a body, and 401 on every customer operation.
fn limits_and_keys(c: &mut Checker) {
    let s = Server::builder().arg("--agent-mode", "manual").arg("--max-body", "2KiB").start();
    let id = new_chat(c, &s, json!({"operationName": "RequestChat", "nickname": "James"}));
    let big = |before: &str| format!("{before}{}\"}}", "x".repeat(3000)).into_bytes();
    c.run(
        &s,
        req("POST", CHATS, CHATS)
            .body(big(r#"{"operationName":"RequestChat","nickname":"J","subject":""#)),
        413,
        Some(2),
    );
    c.run(
        &s,
        req("POST", CHAT, format!("/api/v2/chats/{id}"))
            .body(big(r#"{"operationName":"SendMessage","text":""#)),
        413,
        Some(2),
    );
    c.run(
        &s,
        req("POST", AGENT, format!("/__admin/chats/{id}/agent"))
            .body(big(r#"{"action":"message","text":""#)),
        413,
        Some(2),
    );
    for (method, template, path, before) in [
        ("POST", CLOCK, CLOCK.to_string(), r#"{"advance":"1s","x":""#),
        ("POST", CHAT_CLOCK, format!("/__admin/chats/{id}/clock"), r#"{"advance":"1s","x":""#),
        ("PUT", SCENARIO, "/__admin/scenarios/big".into(), r#"{"steps":[],"description":""#),
        ("POST", CHAT_SCENARIO, format!("/__admin/chats/{id}/scenario"), r#"{"name":""#),
        ("POST", FAULTS, FAULTS.into(), r#"{"fault":{"drop":""#),
    ] {
        c.run(&s, req(method, template, path).body(big(before)), 413, Some(2));
    }

    // --max-text caps message and notice texts (none by default).
    let t = Server::builder().arg("--agent-mode", "manual").arg("--max-text", "100").start();
    let id = new_chat(c, &t, json!({"operationName": "RequestChat", "nickname": "James"}));
    let (chat, agent) = (format!("/api/v2/chats/{id}"), format!("/__admin/chats/{id}/agent"));
    let text = |n: usize| "é".repeat(n);
    c.run(
        &t,
        post(CHAT, &chat, json!({"operationName": "SendMessage", "text": text(100)})),
        200,
        Some(0),
    );
    c.run(
        &t,
        post(CHAT, &chat, json!({"operationName": "SendMessage", "text": text(101)})),
        400,
        Some(2),
    );
    c.run(&t, post(AGENT, &agent, json!({"action": "join"})), 200, Some(0));
    for action in ["message", "notice"] {
        c.run(&t, post(AGENT, &agent, json!({"action": action, "text": text(100)})), 200, Some(0));
        c.run(&t, post(AGENT, &agent, json!({"action": action, "text": text(101)})), 400, Some(2));
    }

    let k = Server::builder().arg("--agent-mode", "manual").arg("--require-apikey", "true").start();
    let with_key = |r: Req| {
        r.header("apikey", APIKEY).header("ContactCenterId", "0b5ff4a0-7a2f-4c4d-9a3b-1f2e3d4c5b6a")
    };
    let res = c.run(
        &k,
        with_key(post(CHATS, CHATS, json!({"operationName": "RequestChat", "nickname": "J"}))),
        200,
        Some(0),
    );
    let id = res.json()["id"].as_str().unwrap().to_string();
    let chat = format!("/api/v2/chats/{id}");
    c.run(&k, with_key(get(CHAT, &chat)), 200, Some(0));
    c.run(&k, with_key(get(TRANSCRIPT, format!("{chat}/messages"))), 200, Some(0));
    c.run(
        &k,
        with_key(post(CHAT, &chat, json!({"operationName": "SendMessage", "text": "hi"}))),
        200,
        Some(0),
    );
    for key in [None, Some("wrong"), Some("")] {
        let key_of = |r: Req| match key {
            Some(v) => r.header("apikey", v),
            None => r,
        };
        c.run(
            &k,
            key_of(post(CHATS, CHATS, json!({"operationName": "RequestChat", "nickname": "J"}))),
            401,
            Some(3),
        );
        c.run(&k, key_of(post(CHAT, &chat, json!({"operationName": "Complete"}))), 401, Some(3));
        c.run(&k, key_of(get(CHAT, &chat)), 401, Some(3));
        c.run(&k, key_of(get(TRANSCRIPT, format!("{chat}/messages?index=0"))), 401, Some(3));
    }
    // The admin API and the preflight need no key.
    c.run(&k, get(ADMIN_CHAT, format!("/__admin/chats/{id}")), 200, Some(0));
    c.run(&k, req("OPTIONS", CHATS, CHATS), 204, None);
}

/// The scenario added at run time that `database_operations` deletes.
const RUNTIME_SCENARIO: &str = "/__admin/scenarios/added-at-run-time";

/// Every operation that uses the database, with a valid request, once per database failure
/// (`RUNTIME_SCENARIO` must exist).
fn database_operations(id: &str) -> Vec<Req> {
    vec![
        get(HEALTH, HEALTH),
        get(ADMIN_CHATS, ADMIN_CHATS),
        req("DELETE", ADMIN_CHATS, ADMIN_CHATS),
        post(CHATS, CHATS, json!({"operationName": "RequestChat", "nickname": "J"})),
        get(CHAT, format!("/api/v2/chats/{id}")),
        post(
            CHAT,
            format!("/api/v2/chats/{id}"),
            json!({"operationName": "SendMessage", "text": "hi"}),
        ),
        get(TRANSCRIPT, format!("/api/v2/chats/{id}/messages")),
        get(ADMIN_CHAT, format!("/__admin/chats/{id}")),
        post(
            AGENT,
            format!("/__admin/chats/{id}/agent"),
            json!({"action": "join", "nickname": "Ann"}),
        ),
        get(AGENT_TRANSCRIPT, format!("/__admin/chats/{id}/messages")),
        post(CLOCK, CLOCK, json!({"advance": "1s"})),
        post(CHAT_CLOCK, format!("/__admin/chats/{id}/clock"), json!({"advance": "1s"})),
        get(CHAT_EVENTS, format!("/__admin/chats/{id}/events")),
        req("PUT", SCENARIO, "/__admin/scenarios/another").body(json!({"steps": []}).to_string()),
        req("DELETE", SCENARIO, RUNTIME_SCENARIO),
        post(CHAT_SCENARIO, format!("/__admin/chats/{id}/scenario"), json!({"name": "manual"})),
        get(REQUESTS, REQUESTS),
        req("DELETE", REQUESTS, REQUESTS),
    ]
}

/// Adds `RUNTIME_SCENARIO`.
fn add_runtime_scenario(c: &mut Checker, s: &Server) {
    let body = json!({"steps": [{"say": "hi"}]}).to_string();
    c.run(s, req("PUT", SCENARIO, RUNTIME_SCENARIO).body(body), 200, Some(0));
}

/// 500: the database lost its tables behind the emulator's back (an outside process).
fn server_failures(c: &mut Checker) {
    let s = Server::manual();
    let id = new_chat(c, &s, json!({"operationName": "RequestChat", "nickname": "James"}));
    add_runtime_scenario(c, &s);
    let db = rusqlite::Connection::open(s.db()).unwrap();
    db.execute_batch(
        "PRAGMA foreign_keys = OFF;
         DROP TABLE chats; DROP TABLE clock; DROP TABLE scenarios; DROP TABLE requests;",
    )
    .unwrap();
    for r in database_operations(&id) {
        c.run(&s, r, 500, Some(4));
    }
    c.run(&s, get(OPENAPI, OPENAPI), 200, None);
}

/// 503: the database is locked by another process; one request waits for it (then gives up after
/// the busy timeout), and with `--max-pending 1` every other request is turned away at once.
fn busy(c: &mut Checker) {
    let s = Server::builder().arg("--agent-mode", "manual").arg("--max-pending", "1").start();
    let id = new_chat(c, &s, json!({"operationName": "RequestChat", "nickname": "James"}));
    add_runtime_scenario(c, &s);
    let db = rusqlite::Connection::open(s.db()).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let chat = format!("/api/v2/chats/{id}");
    // The waiting request must hold the one place in the queue before the others are sent. It
    // is there once a probe (GetChat of an unknown chat: a read that queues for the database
    // but is never held up by our lock) is turned away; a probe that holds the place at the
    // moment the writer arrives gets the writer turned away instead, and then it is tried again
    // (nothing is written while we hold the lock).
    let probe = format!("/api/v2/chats/{}", uuid::Uuid::new_v4());
    let mut waiting = None;
    for attempt in 0..20 {
        let (port, chat) = (s.port, chat.clone());
        let writer = std::thread::spawn(move || {
            let body =
                json!({"operationName": "SendMessage", "text": format!("waiting {attempt}")});
            try_request(
                port,
                "POST",
                &chat,
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            )
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut turned_away = false;
        while !turned_away && Instant::now() < deadline && !writer.is_finished() {
            turned_away = s.get(&probe).status == 503;
        }
        if turned_away {
            waiting = Some(writer);
            break;
        }
        let res = writer.join().unwrap().expect("an answer to the writer");
        assert_eq!(res.status, 503, "a writer not kept waiting was turned away: {}", res.text());
    }
    let waiting = waiting.expect("a request waiting inside the emulator");
    for r in database_operations(&id) {
        c.run(&s, r, 503, Some(4));
    }
    let res = waiting.join().unwrap().expect("an answer to the request that waited");
    db.execute_batch("ROLLBACK").unwrap();
    // The request that waited gave up after the busy timeout: 503 as documented.
    let verdict = c.verdict(CHAT, "post", &res);
    assert_eq!((res.status, verdict), (503, Ok(())), "the request that waited: {}", res.text());
    c.run(&s, get(CHAT, &chat), 200, Some(0));
}

/// The clock: read, freeze, advance (every chat, one chat), and the refusals.
fn clock_routes(c: &mut Checker) {
    let s = Server::manual();
    let id = new_chat(c, &s, json!({"operationName": "RequestChat", "nickname": "James"}));
    c.run(&s, get(CLOCK, CLOCK), 200, Some(0));
    c.run(&s, get(CLOCK, "/__admin/clock/"), 200, Some(0));
    for body in [
        json!({"freeze": true}),
        json!({"advance": "30m"}),
        json!({"advance": 1500}),
        json!({"advance": " 1d "}),
        json!({"freeze": false, "advance": "0"}),
        json!({"advance": "2h", "other": 1}),
        json!({"freeze": null, "advance": "1min"}),
    ] {
        c.run(&s, post(CLOCK, CLOCK, body), 200, Some(0));
    }
    // 400 / 1: neither advance nor freeze; bodies that are not a JSON object.
    for body in [json!({}), json!({"advance": null}), json!({"freeze": null}), json!({"x": 1})] {
        c.run(&s, post(CLOCK, CLOCK, body), 400, Some(1));
    }
    for body in [&b""[..], b"[]", b"not json"] {
        c.run(&s, req("POST", CLOCK, CLOCK).body(body), 400, Some(1));
    }
    // 400 / 2: a freeze that is not a boolean, durations that are not durations.
    for body in [
        json!({"freeze": "yes"}),
        json!({"advance": "-1s"}),
        json!({"advance": -5}),
        json!({"advance": 1.5}),
        json!({"advance": "1.5s"}),
        json!({"advance": "366d"}),
        json!({"advance": 31_536_000_001i64}),
        json!({"advance": "soon"}),
        json!({"advance": true}),
    ] {
        c.run(&s, post(CLOCK, CLOCK, body), 400, Some(2));
    }
    // One chat's time.
    let path = format!("/__admin/chats/{id}/clock");
    for body in [json!({"advance": "2s"}), json!({"advance": 0}), json!({"advance": 250})] {
        c.run(&s, post(CHAT_CLOCK, &path, body), 200, Some(0));
    }
    for body in [json!({}), json!({"advance": null}), json!({"freeze": true})] {
        c.run(&s, post(CHAT_CLOCK, &path, body), 400, Some(1));
    }
    c.run(&s, req("POST", CHAT_CLOCK, &path).body(&b"[1]"[..]), 400, Some(1));
    for body in [json!({"advance": "x"}), json!({"advance": -1}), json!({"advance": [1]})] {
        c.run(&s, post(CHAT_CLOCK, &path, body), 400, Some(2));
    }
    for bad in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".into()] {
        let path = format!("/__admin/chats/{bad}/clock");
        c.run(&s, post(CHAT_CLOCK, path, json!({"advance": "1s"})), 404, Some(6));
    }
    let detail = c.run(&s, get(ADMIN_CHAT, format!("/__admin/chats/{id}")), 200, Some(0)).json();
    assert_eq!(detail["chat"]["clockOffsetMs"], 2250, "{detail}");
    let health = c.run(&s, get(HEALTH, HEALTH), 200, Some(0)).json();
    assert_eq!(health["clock"]["frozen"], false, "{health}");
}

/// Long polls (`wait`) and the event streams: what they send, and their refusals.
fn waits_and_streams(c: &mut Checker) {
    let s = Server::manual();
    let id = new_chat(c, &s, json!({"operationName": "RequestChat", "nickname": "James"}));
    let agent = format!("/__admin/chats/{id}/agent");
    let transcript = format!("/__admin/chats/{id}/messages");
    // Unread messages: at once. Nothing new: an empty answer once the wait is over.
    c.run(&s, get(AGENT_TRANSCRIPT, format!("{transcript}?wait=5s")), 200, Some(0));
    let started = Instant::now();
    let res = c.run(&s, get(AGENT_TRANSCRIPT, format!("{transcript}?wait=300ms")), 200, Some(0));
    assert!(res.json()["messages"].as_array().is_some_and(Vec::is_empty), "{}", res.text());
    assert!(started.elapsed() >= Duration::from_millis(250), "the wait was held");
    c.run(&s, get(AGENT_TRANSCRIPT, format!("{transcript}?index=99&wait=100")), 200, Some(0));
    // A message arriving during the wait answers it.
    let (port, path) = (s.port, agent.clone());
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let body = json!({"action": "join", "nickname": "Ann"}).to_string();
        try_request(port, "POST", &path, &[("Content-Type", "application/json")], body.as_bytes())
    });
    let started = Instant::now();
    let res = c.run(&s, get(AGENT_TRANSCRIPT, format!("{transcript}?wait=20s")), 200, Some(0));
    assert_eq!(writer.join().unwrap().map(|r| r.status), Ok(200));
    assert!(started.elapsed() < Duration::from_secs(15), "woken by the join");
    assert_eq!(res.json()["messages"][0]["type"], "ParticipantJoined", "{}", res.text());
    for wait in ["61s", "2m", "abc", "-1s", "1.5s", "", "5x"] {
        c.run(&s, get(AGENT_TRANSCRIPT, format!("{transcript}?wait={wait}")), 400, Some(2));
    }
    c.run(
        &s,
        post(AGENT, &agent, json!({"action": "pushUrl", "url": "https://example.com/a"})),
        200,
        Some(0),
    );

    // One chat: its state, then every message (1 to 4).
    let events_path = format!("/__admin/chats/{id}/events");
    let names = |events: &[SseEvent]| events.iter().map(|e| e.event.clone()).collect::<Vec<_>>();
    let events = c.run_stream(&s, get(CHAT_EVENTS, &events_path), 5, || {});
    assert_eq!(names(&events), ["state", "message", "message", "message", "message"]);
    assert_eq!(events[4].id.as_deref(), Some(format!("{id}:4").as_str()));
    // Resumed after Last-Event-ID (header, query, a bare index), then what is written meanwhile.
    let notice = || {
        assert_eq!(s.agent(&id, json!({"action": "notice", "text": "Noted"})).status, 200);
    };
    let header =
        get(CHAT_EVENTS, format!("{events_path}/")).header("Last-Event-ID", &format!("{id}:3"));
    let events = c.run_stream(&s, header, 3, notice);
    assert_eq!(names(&events), ["state", "message", "message"]);
    assert_eq!(events[2].id.as_deref(), Some(format!("{id}:5").as_str()));
    let events =
        c.run_stream(&s, get(CHAT_EVENTS, format!("{events_path}?lastEventId=4")), 2, || {});
    assert_eq!(events.get(1).and_then(|e| e.id.clone()), Some(format!("{id}:5")));
    let both =
        get(CHAT_EVENTS, format!("{events_path}?lastEventId=0")).header("Last-Event-ID", "5");
    let events = c.run_stream(&s, both, 2, || {
        assert_eq!(s.agent(&id, json!({"action": "typingStarted"})).status, 200);
    });
    assert_eq!(events.get(1).and_then(|e| e.id.clone()), Some(format!("{id}:6")));
    // Every chat, from now on: a new chat, its messages.
    let events = c.run_stream(&s, get(EVENTS, EVENTS), 3, || {
        s.request_chat("Zoë");
    });
    assert_eq!(names(&events).first().map(String::as_str), Some("chat"));
    c.run_stream(&s, get(EVENTS, "/__admin/events/").header("Last-Event-ID", "x"), 2, || {
        assert_eq!(s.agent(&id, json!({"action": "leave"})).status, 200);
    });
    // Refused before the stream starts.
    for bad in
        ["x".to_string(), "-1".into(), "abc:def".into(), "1.5".into(), format!("{id}:"), "".into()]
    {
        let r = get(CHAT_EVENTS, &events_path).header("Last-Event-ID", &bad);
        c.run(&s, r, 400, Some(2));
        let q = url_escape(&bad);
        c.run(&s, get(CHAT_EVENTS, format!("{events_path}?lastEventId={q}")), 400, Some(2));
    }
    for bad in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".into()] {
        c.run(&s, get(CHAT_EVENTS, format!("/__admin/chats/{bad}/events")), 404, Some(6));
    }
}

/// `text` percent-encoded for a query string.
fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Scenarios: list, show, add and replace, delete, switch a chat, pick one at RequestChat.
fn scenario_routes(c: &mut Checker) {
    let s = Server::builder()
        .arg("--agent-mode", "manual")
        .arg("--scenarios-dir", concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
        .start();
    let list = c.run(&s, get(SCENARIOS, SCENARIOS), 200, Some(0)).json();
    assert_eq!(list["default"], "manual", "{list}");
    for name in ["bot", "manual", "greets-then-bot", "slow-typist"] {
        c.run(&s, get(SCENARIO, format!("/__admin/scenarios/{name}")), 200, Some(0));
    }
    let documents = [
        ("zed", json!({"steps": []})),
        (
            "zed",
            json!({"name": "zed", "description": "again", "steps": [{"say": "Hi ${customer.nickname}"}]}),
        ),
        ("bot", json!({"steps": [{"join": "Robo"}, {"then": "bot"}]})),
        (
            "every-step",
            json!({"name": "every-step", "steps": [
                {"after": "1s", "join": "Ann"},
                {"say": "Hello ${chat.subject}"},
                {"typing": 1500},
                {"pushUrl": "https://example.com/help"},
                {"notice": "Noted: ${lastMessage.text}"},
                {"waitFor": "customerMessage", "match": "(?i)bye", "timeout": "1m", "onTimeout": "complete"},
                {"waitFor": "customerMessage"},
                {"leave": true},
                {"complete": true}
            ]}),
        ),
        ("a.b-c_D9", json!({"name": null, "description": null, "steps": [{"then": "bot"}]})),
    ];
    for (name, document) in documents {
        let path = format!("/__admin/scenarios/{name}");
        c.run(&s, req("PUT", SCENARIO, path).body(document.to_string()), 200, Some(0));
    }
    for name in ["zed", "bot", "every-step", "a.b-c_D9"] {
        c.run(&s, get(SCENARIO, format!("/__admin/scenarios/{name}")), 200, Some(0));
    }
    c.run(&s, get(SCENARIOS, format!("{SCENARIOS}/")), 200, Some(0));
    // 400 / 1: bodies that are not a JSON object.
    for body in [&b""[..], b"[]", b"\"steps\""] {
        c.run(&s, req("PUT", SCENARIO, "/__admin/scenarios/x").body(body), 400, Some(1));
    }
    // 400 / 2: names and documents that are not valid.
    let long_name = "n".repeat(65);
    for name in [".hidden", "a%20b", "caf%C3%A9", long_name.as_str()] {
        let path = format!("/__admin/scenarios/{name}");
        c.run(&s, req("PUT", SCENARIO, path).body(json!({"steps": []}).to_string()), 400, Some(2));
    }
    for document in [
        json!({"name": "other", "steps": []}),
        json!({"name": 5, "steps": []}),
        json!({}),
        json!({"steps": {}}),
        json!({"steps": [], "extra": 1}),
        json!({"steps": [], "description": 7}),
        json!({"steps": [{}]}),
        json!({"steps": [5]}),
        json!({"steps": [{"join": "A", "say": "B"}]}),
        json!({"steps": [{"say": "  "}]}),
        json!({"steps": [{"say": "${nope}"}]}),
        json!({"steps": [{"say": "${customer.nickname"}]}),
        json!({"steps": [{"say": "Hi", "text": "x"}]}),
        json!({"steps": [{"after": "soon", "say": "Hi"}]}),
        json!({"steps": [{"after": null, "say": "Hi"}]}),
        json!({"steps": [{"typing": -1}]}),
        json!({"steps": [{"pushUrl": "ftp://example.com"}]}),
        json!({"steps": [{"waitFor": "agentMessage"}]}),
        json!({"steps": [{"waitFor": "customerMessage", "match": "("}]}),
        json!({"steps": [{"waitFor": "customerMessage", "onTimeout": "complete"}]}),
        json!({"steps": [{"waitFor": "customerMessage", "onTimeout": "later", "timeout": "1s"}]}),
        json!({"steps": [{"leave": false}]}),
        json!({"steps": [{"then": "human"}]}),
        json!({"steps": [{"complete": true}, {"say": "never"}]}),
        json!({"steps": vec![json!({"say": "x"}); 1001]}),
    ] {
        let path = "/__admin/scenarios/zed";
        c.run(&s, req("PUT", SCENARIO, path).body(document.to_string()), 400, Some(2));
    }
    // Delete: a run-time scenario (a shipped one of that name shows again); not a shipped one.
    c.run(&s, req("DELETE", SCENARIO, "/__admin/scenarios/zed"), 200, Some(0));
    c.run(&s, req("DELETE", SCENARIO, "/__admin/scenarios/bot/"), 200, Some(0));
    for name in ["bot", "manual", "greets-then-bot"] {
        c.run(&s, req("DELETE", SCENARIO, format!("/__admin/scenarios/{name}")), 400, Some(2));
    }
    for name in ["zed", "nope", ".hidden"] {
        let path = format!("/__admin/scenarios/{name}");
        c.run(&s, get(SCENARIO, &path), 404, Some(6));
        c.run(&s, req("DELETE", SCENARIO, &path), 404, Some(6));
    }
    // A chat's scenario: picked at RequestChat (userData.scenario), switched while it runs.
    let body = json!({"operationName": "RequestChat", "nickname": "James",
                      "userData": {"scenario": "every-step", "customerId": 42}});
    let id = new_chat(c, &s, body);
    for scenario in [json!("nope"), json!(5), json!({"name": "bot"})] {
        let body = json!({"operationName": "RequestChat", "nickname": "J", "userData": {"scenario": scenario}});
        c.run(&s, post(CHATS, CHATS, body), 400, Some(2));
    }
    let switch = format!("/__admin/chats/{id}/scenario");
    for name in ["greets-then-bot", "manual", "a.b-c_D9"] {
        c.run(&s, post(CHAT_SCENARIO, &switch, json!({"name": name})), 200, Some(0));
    }
    for body in [json!({}), json!({"name": null}), json!({"name": "  "})] {
        c.run(&s, post(CHAT_SCENARIO, &switch, body), 400, Some(1));
    }
    c.run(&s, req("POST", CHAT_SCENARIO, &switch).body(&b"nope"[..]), 400, Some(1));
    for body in [json!({"name": "nope"}), json!({"name": 5})] {
        c.run(&s, post(CHAT_SCENARIO, &switch, body), 400, Some(2));
    }
    for bad in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".into()] {
        let path = format!("/__admin/chats/{bad}/scenario");
        c.run(&s, post(CHAT_SCENARIO, path, json!({"name": "manual"})), 404, Some(6));
    }
    let list = c.run(&s, get(ADMIN_CHATS, ADMIN_CHATS), 200, Some(0)).json();
    assert_eq!(list["chats"][0]["scenario"], "a.b-c_D9", "{list}");
    let detail = c.run(&s, get(ADMIN_CHAT, format!("/__admin/chats/{id}")), 200, Some(0)).json();
    assert_eq!(detail["chat"]["scenario"], "a.b-c_D9", "{detail}");
    c.run(
        &s,
        post(CHAT, format!("/api/v2/chats/{id}"), json!({"operationName": "Complete"})),
        200,
        Some(0),
    );
    c.run(&s, post(CHAT_SCENARIO, &switch, json!({"name": "manual"})), 400, Some(2));
}

/// Fault rules: add, list, delete; and what they do to the customer API.
fn fault_routes(c: &mut Checker) {
    let s = Server::manual();
    let id = new_chat(c, &s, json!({"operationName": "RequestChat", "nickname": "James"}));
    let chat = format!("/api/v2/chats/{id}");
    c.run(&s, get(FAULTS, FAULTS), 200, Some(0));
    // In order: the first rule that matches fires.
    for rule in [
        json!({"match": {"operation": "GetChat"}, "fault": {"status": 503}, "times": 1}),
        json!({"match": {"operation": "GetTranscript"}, "fault": {"delay": "10ms"}, "probability": 1}),
        json!({"match": {"operation": "Complete", "chat": null}, "fault": {"status": 500, "statusCode": 4}, "times": 1}),
        json!({"match": null, "fault": {"drop": "after"}, "times": 1, "probability": 0}),
        json!({"match": {"operation": "SendMessage"}, "fault": {"drop": "before"}, "times": null}),
        json!({"match": {"chat": id.to_uppercase()}, "fault": {"delay": 5}, "times": 2}),
    ] {
        c.run(&s, post(FAULTS, FAULTS, rule), 200, Some(0));
    }
    c.run(&s, get(FAULTS, FAULTS), 200, Some(0));
    // What they do: 503/4 and 500/4, documented answers; a delay answers normally.
    c.run(&s, get(CHAT, &chat), 503, Some(4));
    c.run(&s, get(TRANSCRIPT, format!("{chat}/messages")), 200, Some(0));
    c.run(&s, post(CHAT, &chat, json!({"operationName": "Complete"})), 500, Some(4));
    // A drop: no answer at all (the document's description says so; there is nothing to check).
    let body = json!({"operationName": "SendMessage", "text": "lost"}).to_string();
    let dropped =
        s.try_request("POST", &chat, &[("Content-Type", "application/json")], body.as_bytes());
    assert!(dropped.is_err(), "a dropped connection, not {dropped:?}");
    let listed = c.run(&s, get(FAULTS, FAULTS), 200, Some(0)).json();
    assert_eq!(listed["faults"][0]["times"], 0, "{listed}");
    assert_eq!(listed["faults"][0]["fired"], 1, "{listed}");
    // 400 / 1 and 2.
    for body in [&b""[..], b"[1]", b"{"] {
        c.run(&s, req("POST", FAULTS, FAULTS).body(body), 400, Some(1));
    }
    for rule in [
        json!({}),
        json!({"fault": null}),
        json!({"fault": "503"}),
        json!({"fault": {}}),
        json!({"fault": {"status": 503, "drop": "after"}}),
        json!({"fault": {"status": 600}}),
        json!({"fault": {"status": 302}}),
        json!({"fault": {"status": 503.0}}),
        json!({"fault": {"status": 503, "statusCode": 100}}),
        json!({"fault": {"status": 503, "statusCode": "4"}}),
        json!({"fault": {"delay": "6m"}}),
        json!({"fault": {"delay": -1}}),
        json!({"fault": {"delay": true}}),
        json!({"fault": {"drop": "later"}}),
        json!({"fault": {"drop": "after", "delay": 5}}),
        json!({"fault": {"drop": "after", "x": 1}}),
        json!({"fault": {"drop": "after"}, "extra": 1}),
        json!({"fault": {"drop": "after"}, "match": "SendMessage"}),
        json!({"fault": {"drop": "after"}, "match": {"operation": "Fly"}}),
        json!({"fault": {"drop": "after"}, "match": {"chat": "x"}}),
        json!({"fault": {"drop": "after"}, "match": {"chat": 5}}),
        json!({"fault": {"drop": "after"}, "match": {"path": "/api"}}),
        json!({"fault": {"drop": "after"}, "times": 0}),
        json!({"fault": {"drop": "after"}, "times": 1.5}),
        json!({"fault": {"drop": "after"}, "probability": 2}),
        json!({"fault": {"drop": "after"}, "probability": "1"}),
    ] {
        c.run(&s, post(FAULTS, FAULTS, rule), 400, Some(2));
    }
    c.run(&s, req("DELETE", FAULT, "/__admin/faults/99"), 404, Some(6));
    c.run(&s, req("DELETE", FAULT, "/__admin/faults/1"), 200, Some(0));
    c.run(&s, req("DELETE", FAULT, "/__admin/faults/1/"), 404, Some(6));
    c.run(&s, req("DELETE", FAULTS, FAULTS), 200, Some(0));
    c.run(&s, req("DELETE", FAULTS, "/__admin/faults/"), 200, Some(0));

    // A `status` fault of 503 (statusCode 4 by default) on every customer operation: the 503 the
    // document lists for each of them.
    c.run(&s, post(FAULTS, FAULTS, json!({"fault": {"status": 503}})), 200, Some(0));
    let key = |r: Req| r.header("apikey", "any");
    c.run(
        &s,
        key(post(CHATS, CHATS, json!({"operationName": "RequestChat", "nickname": "J"}))),
        503,
        Some(4),
    );
    for op in
        ["SendMessage", "SendStartTypingNotification", "SendStopTypingNotification", "Complete"]
    {
        c.run(&s, post(CHAT, &chat, json!({"operationName": op, "text": "hi"})), 503, Some(4));
    }
    c.run(&s, get(CHAT, &chat), 503, Some(4));
    c.run(&s, get(TRANSCRIPT, format!("{chat}/messages?index=0")), 503, Some(4));
    c.run(&s, req("DELETE", FAULTS, FAULTS), 200, Some(0));
    c.run(&s, get(CHAT, &chat), 200, Some(0));
}

/// The request journal: read (filtered) and emptied.
fn journal_routes(c: &mut Checker) {
    let s = Server::manual();
    let id = new_chat(c, &s, json!({"operationName": "RequestChat", "nickname": "James"}));
    let chat = format!("/api/v2/chats/{id}");
    c.run(
        &s,
        post(CHAT, &chat, json!({"operationName": "SendMessage", "text": "x".repeat(5000)})),
        200,
        Some(0),
    );
    c.run(&s, get(CHAT, &chat), 200, Some(0));
    c.unknown_route(&s, "GET", "/api/v2/nope");
    c.run(
        &s,
        post(
            FAULTS,
            FAULTS,
            json!({"match": {"operation": "GetChat"}, "fault": {"drop": "before"}, "times": 1}),
        ),
        200,
        Some(0),
    );
    assert!(s.try_request("GET", &chat, &[], b"").is_err(), "dropped");
    c.run(
        &s,
        post(
            FAULTS,
            FAULTS,
            json!({"match": {"operation": "GetChat"}, "fault": {"status": 503}, "times": 1}),
        ),
        200,
        Some(0),
    );
    c.run(&s, get(CHAT, &chat), 503, Some(4));
    let all = c.run(&s, get(REQUESTS, REQUESTS), 200, Some(0)).json();
    let entries = all["requests"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["httpStatus"].is_null() && !e["fault"].is_null()), "{all}");
    assert!(entries.iter().any(|e| e["truncated"] == true), "{all}");
    for q in [
        format!("chat={id}"),
        format!("chat={}", id.to_uppercase()),
        "operation=SendMessage".into(),
        "status=503".into(),
        "status=200&limit=1".into(),
        "chat=&operation=&status=&limit=".into(),
        "limit=10000".into(),
    ] {
        c.run(&s, get(REQUESTS, format!("{REQUESTS}?{q}")), 200, Some(0));
    }
    for q in ["status=99", "status=600", "status=abc", "limit=0", "limit=10001", "limit=x"] {
        c.run(&s, get(REQUESTS, format!("{REQUESTS}?{q}")), 400, Some(2));
    }
    c.run(&s, req("DELETE", REQUESTS, REQUESTS), 200, Some(0));
    let empty = c.run(&s, get(REQUESTS, format!("{REQUESTS}/")), 200, Some(0)).json();
    assert_eq!(empty["requests"], json!([]), "{empty}");
}

/// Every admin operation, with a valid request (`id`: a chat; fault rule 1 and scenario `zed`
/// need not exist: the token is checked first).
fn admin_operations(id: &str) -> Vec<Req> {
    let mut all = database_operations(id);
    all.retain(|r| r.template.starts_with("/__admin"));
    all.extend([
        get(OPENAPI, OPENAPI),
        get(CLOCK, CLOCK),
        get(EVENTS, EVENTS),
        get(SCENARIOS, SCENARIOS),
        get(SCENARIO, "/__admin/scenarios/bot"),
        get(FAULTS, FAULTS),
        post(FAULTS, FAULTS, json!({"fault": {"delay": 0}})),
        req("DELETE", FAULTS, FAULTS),
        req("DELETE", FAULT, "/__admin/faults/1"),
        get(AGENT_TRANSCRIPT, format!("/__admin/chats/{id}/messages?wait=1s")),
    ]);
    all
}

/// 401 on every admin operation with `--admin-token`, without the token or with a wrong one.
fn admin_token(c: &mut Checker) {
    let s = Server::builder().arg("--agent-mode", "manual").arg("--admin-token", "s3cret").start();
    // The customer API and the preflight need no token.
    let id = new_chat(c, &s, json!({"operationName": "RequestChat", "nickname": "James"}));
    c.run(&s, req("OPTIONS", ADMIN_CHATS, ADMIN_CHATS), 204, None);
    for auth in [None, Some("Bearer nope"), Some("Basic s3cret"), Some("s3cret"), Some("Bearer")] {
        for r in admin_operations(&id) {
            let r = match auth {
                Some(v) => r.header("Authorization", v),
                None => r,
            };
            c.run(&s, r, 401, Some(3));
        }
    }
    for auth in ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret "] {
        c.run(&s, get(HEALTH, HEALTH).header("Authorization", auth), 200, Some(0));
    }
    let with = |r: Req| r.header("Authorization", "Bearer s3cret");
    c.run(&s, with(get(ADMIN_CHAT, format!("/__admin/chats/{id}"))), 200, Some(0));
    c.run(&s, with(get(OPENAPI, OPENAPI)), 200, None);
    c.run(&s, with(get(SCENARIOS, SCENARIOS)), 200, Some(0));
    c.run_stream(&s, with(get(CHAT_EVENTS, format!("/__admin/chats/{id}/events"))), 1, || {});
}

/// 503 while the database file is being recreated (a folder took its name): health says so.
fn database_gone(c: &mut Checker) {
    let s = Server::manual();
    c.run(&s, get(HEALTH, HEALTH), 200, Some(0));
    std::fs::remove_file(s.db()).unwrap();
    std::fs::create_dir(s.db()).unwrap();
    wait_for("health to answer 503", Duration::from_secs(10), || {
        (s.get(HEALTH).status == 503).then_some(())
    });
    c.run(&s, get(HEALTH, HEALTH), 503, Some(4));
    c.run(
        &s,
        post(CHATS, CHATS, json!({"operationName": "RequestChat", "nickname": "J"})),
        503,
        Some(4),
    );
    c.run(&s, post(CLOCK, CLOCK, json!({"advance": "1s"})), 503, Some(4));
    std::fs::remove_dir(s.db()).unwrap();
    wait_for("health to answer 200 again", Duration::from_secs(10), || {
        (s.get(HEALTH).status == 200).then_some(())
    });
}

#[test]
fn every_operation_and_error_row_conforms_to_the_document() {
    let doc = fetch_doc(&Server::manual());
    let mut checker = Checker::new(doc.clone());
    // The 10 s busy timeout runs alongside the rest.
    let busy_run = std::thread::spawn(move || {
        let mut c = Checker::new(doc);
        busy(&mut c);
        c
    });
    successes(&mut checker);
    bot_successes(&mut checker);
    refusals(&mut checker);
    limits_and_keys(&mut checker);
    clock_routes(&mut checker);
    waits_and_streams(&mut checker);
    scenario_routes(&mut checker);
    fault_routes(&mut checker);
    journal_routes(&mut checker);
    admin_token(&mut checker);
    database_gone(&mut checker);
    server_failures(&mut checker);
    let busy_checker = busy_run.join().expect("the 503 run");
    checker.failures.extend(busy_checker.failures);
    checker.seen.extend(busy_checker.seen);

    assert!(
        checker.failures.is_empty(),
        "{} answers do not conform to the document:\n{}",
        checker.failures.len(),
        checker.failures.join("\n")
    );
    // Every status the document lists for every operation was seen: it promises nothing else.
    let mut unseen = Vec::new();
    for (path, item) in checker.doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap().iter().filter(|(k, _)| *k != "parameters") {
            for status in op["responses"].as_object().unwrap().keys() {
                if !checker.seen.contains(&(path.clone(), method.clone(), status.clone())) {
                    unseen.push(format!("{} {path} -> {status}", method.to_ascii_uppercase()));
                }
            }
        }
    }
    assert!(unseen.is_empty(), "documented but never seen:\n{}", unseen.join("\n"));
}
