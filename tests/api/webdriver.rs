//! A minimal W3C WebDriver client for the browser tests: Debian's chromedriver driving headless
//! Debian Chromium. WebDriver is JSON over HTTP, so this is the harness's HTTP client plus a few
//! endpoints; no driver crate (and its dependency tree) is needed.
//!
//! When Chromium or chromedriver is missing, `Browser::launch` says so loudly and returns None,
//! so a developer without a browser still runs the rest; with `GWS_REQUIRE_BROWSER=1` (set by
//! `.ci/run`) a missing browser fails the test instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{try_request, wait_for, TempDir};

/// Debian's paths; `GWS_CHROMIUM` and `GWS_CHROMEDRIVER` point elsewhere.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn tool(env: &str, default: &str) -> String {
    std::env::var(env).ok().filter(|p| !p.is_empty()).unwrap_or_else(|| default.to_string())
}
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
pub const ENTER: &str = "\u{E007}";

pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session with a fresh profile.
    pub fn launch() -> Option<Browser> {
        Self::launch_sized(1280, 900)
    }

    pub fn launch_sized(width: u32, height: u32) -> Option<Browser> {
        let chromium = tool("GWS_CHROMIUM", CHROMIUM);
        let chromedriver = tool("GWS_CHROMEDRIVER", CHROMEDRIVER);
        for tool in [&chromium, &chromedriver] {
            if !Path::new(tool).exists() {
                let msg = format!(
                    "\n\n!!!!!!!!!! BROWSER TEST SKIPPED: {tool} is not installed.\n\
                     !!!!!!!!!! Install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)\n\
                     !!!!!!!!!! to run the browser tests (or set GWS_CHROMIUM / GWS_CHROMEDRIVER);\n\
                     !!!!!!!!!! .ci/run installs them and sets GWS_REQUIRE_BROWSER=1.\n"
                );
                if std::env::var("GWS_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                    panic!("{msg}");
                }
                // Straight to the stderr handle: eprintln! would be captured for a passing test.
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "{msg}");
                return None;
            }
        }
        let port = free_port();
        let profile = TempDir::new();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        wait_for("chromedriver to listen", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        // Headless windows are at least 500 px wide: phone widths need device emulation.
        let mobile = (width < 500).then(
            || json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0}}),
        );
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "mobileEmulation": mobile.unwrap_or_else(|| json!({})),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", "--disable-quic", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ],
            },
        }}});
        let mut browser = Browser { driver, port, session: String::new(), _profile: profile };
        let value = browser.call("POST", "/session", Some(caps));
        browser.session = value["sessionId"].as_str().expect("a session id").to_string();
        Some(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let headers: &[(&str, &str)] =
            if method == "POST" { &[("Content-Type", "application/json")] } else { &[] };
        let res =
            try_request(self.port, method, path, headers, body.as_bytes()).unwrap_or_else(|e| {
                panic!("WebDriver {method} {path}: no answer from chromedriver: {e}")
            });
        let json = res.json();
        if res.status != 200 {
            panic!("WebDriver {method} {path} failed ({}): {}", res.status, json["value"]);
        }
        json["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn refresh(&self) {
        self.session_call("POST", "/refresh", Some(json!({})));
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its result.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.session_call("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    fn element(&self, css: &str) -> String {
        let v = self.session_call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("no element {css}")).to_string()
    }

    pub fn exists(&self, css: &str) -> bool {
        self.exec("return document.querySelector(arguments[0]) !== null;", json!([css]))
            == json!(true)
    }

    pub fn click(&self, css: &str) {
        let e = self.element(css);
        self.session_call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// Types into an element as a user does (key events, so typing notifications fire).
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.session_call("POST", &format!("/element/{e}/value"), Some(json!({ "text": text })));
    }

    pub fn clear(&self, css: &str) {
        let e = self.element(css);
        self.session_call("POST", &format!("/element/{e}/clear"), Some(json!({})));
    }

    /// The rendered text of the first element matching `css` ("" when hidden).
    pub fn text(&self, css: &str) -> String {
        let e = self.element(css);
        self.session_call("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.exec(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            json!([css, name]),
        )
        .as_str()
        .map(str::to_string)
    }

    /// Whether an element is shown: present, without `hidden`, and taking up space.
    pub fn visible(&self, css: &str) -> bool {
        self.exec(
            "const e = document.querySelector(arguments[0]);
             return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;",
            json!([css]),
        ) == json!(true)
    }

    /// The `<li>` lines of a transcript list: index, type, from-type and text content.
    pub fn lines(&self, list_css: &str) -> Vec<Line> {
        let v = self.exec(
            "return [...document.querySelectorAll(arguments[0] + ' li[data-index]')].map(li => ({
                 index: Number(li.dataset.index), type: li.dataset.type || '',
                 from: li.dataset.fromType || '', text: li.textContent }));",
            json!([list_css]),
        );
        v.as_array()
            .unwrap()
            .iter()
            .map(|l| Line {
                index: l["index"].as_i64().unwrap(),
                kind: l["type"].as_str().unwrap().to_string(),
                from: l["from"].as_str().unwrap().to_string(),
                text: l["text"].as_str().unwrap().to_string(),
            })
            .collect()
    }

    pub fn wait_until(&self, what: &str, check: impl FnMut() -> bool) {
        self.wait_until_for(what, Duration::from_secs(15), check)
    }

    pub fn wait_until_for(&self, what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !check() {
            if Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Saves a PNG of the page in the tests' output folder and returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.session_call("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap());
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = try_request(self.port, "DELETE", &path, &[], b"");
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub index: i64,
    pub kind: String,
    pub from: String,
    pub text: String,
}

/// Where the browser tests leave their screenshots: `target/tmp/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
