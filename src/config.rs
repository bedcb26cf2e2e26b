//! Configuration: every option by command-line flag or environment variable (the flag wins),
//! with the defaults of SPEC.md section 4. One table (`OPTIONS`) drives parsing and `--help`.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::AgentMode;

/// The documented GWS sample key; checked only with `--require-apikey`.
pub const DEFAULT_APIKEY: &str = "N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44";

struct OptSpec {
    name: &'static str,
    env: &'static str,
    default: &'static str,
    value: &'static str,
    help: &'static str,
}

const OPTIONS: &[OptSpec] = &[
    OptSpec {
        name: "port",
        env: "PORT",
        default: "8888",
        value: "PORT",
        help: "TCP port to listen on (0 picks a free one)",
    },
    OptSpec {
        name: "bind",
        env: "GWS_BIND",
        default: "127.0.0.1",
        value: "ADDR",
        help: "address to listen on; the admin API is unauthenticated, so keep it on loopback",
    },
    OptSpec {
        name: "db",
        env: "GWS_DB",
        default: "chat.db",
        value: "PATH",
        help: "SQLite database file (created if missing; delete it to reset)",
    },
    OptSpec {
        name: "client-dir",
        env: "GWS_CLIENT_DIR",
        default: "<project>/client",
        value: "DIR",
        help: "folder served at /client/",
    },
    OptSpec {
        name: "log-dir",
        env: "GWS_LOG_DIR",
        default: "logs",
        value: "DIR",
        help: "folder for chat.log (rotated at 10 MiB, 3 old files kept)",
    },
    OptSpec {
        name: "agent-mode",
        env: "GWS_AGENT_MODE",
        default: "bot",
        value: "bot|manual",
        help: "bot: an agent joins and replies by itself; manual: drive the agent through /__admin",
    },
    OptSpec {
        name: "agent-nickname",
        env: "GWS_AGENT_NICKNAME",
        default: "Kate",
        value: "NAME",
        help: "nickname of the bot agent",
    },
    OptSpec {
        name: "agent-join-delay",
        env: "GWS_AGENT_JOIN_DELAY",
        default: "1s..4s",
        value: "RANGE",
        help: "random delay before the bot agent joins",
    },
    OptSpec {
        name: "reply-delay",
        env: "GWS_REPLY_DELAY",
        default: "0s..2s",
        value: "RANGE",
        help: "random delay before the bot answers a customer message",
    },
    OptSpec {
        name: "bot-typing",
        env: "GWS_BOT_TYPING",
        default: "true",
        value: "BOOL",
        help: "the bot sends TypingStarted before a reply and TypingStopped after it",
    },
    OptSpec {
        name: "system-message-interval",
        env: "GWS_SYSTEM_MESSAGE_INTERVAL",
        default: "20s",
        value: "DURATION",
        help: "how often the system participant posts a message (0 = off)",
    },
    OptSpec {
        name: "idle-timeout",
        env: "GWS_IDLE_TIMEOUT",
        default: "30m",
        value: "DURATION",
        help: "close a chat after this long without a customer operation (0 = off)",
    },
    OptSpec {
        name: "seed",
        env: "GWS_SEED",
        default: "random",
        value: "N",
        help: "seed for every random choice (chat ids, delays), for reproducible runs",
    },
    OptSpec {
        name: "require-apikey",
        env: "GWS_REQUIRE_APIKEY",
        default: "false",
        value: "BOOL",
        help: "refuse customer API requests without the right apikey header (401)",
    },
    OptSpec {
        name: "apikey",
        env: "GWS_APIKEY",
        default: DEFAULT_APIKEY,
        value: "KEY",
        help: "the key checked by --require-apikey",
    },
    OptSpec {
        name: "max-body",
        env: "GWS_MAX_BODY",
        default: "64KiB",
        value: "SIZE",
        help: "largest request body accepted (413 above it)",
    },
    OptSpec {
        name: "max-text",
        env: "GWS_MAX_TEXT",
        default: "16384",
        value: "CHARS",
        help: "longest message or notice text, in characters (400 above it)",
    },
    OptSpec {
        name: "transcript-page",
        env: "GWS_TRANSCRIPT_PAGE",
        default: "1000",
        value: "N",
        help: "most messages one GetTranscript returns; the next call (or index) gets the rest",
    },
    OptSpec {
        name: "max-connections",
        env: "GWS_MAX_CONNECTIONS",
        default: "4096",
        value: "N",
        help: "open HTTP connections served at once; more wait to be accepted",
    },
    OptSpec {
        name: "max-pending",
        env: "GWS_MAX_PENDING",
        default: "1024",
        value: "N",
        help: "requests waiting for the database at once; more are answered 503",
    },
    OptSpec {
        name: "scheduler-tick",
        env: "GWS_SCHEDULER_TICK",
        default: "20ms",
        value: "DURATION",
        help: "how often the scheduler looks for due work",
    },
];

/// An inclusive range of durations, written `MIN..MAX` (or a single duration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayRange {
    pub min: Duration,
    pub max: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub bind: String,
    pub db: PathBuf,
    pub client_dir: PathBuf,
    pub log_dir: PathBuf,
    pub agent_mode: AgentMode,
    pub agent_nickname: String,
    pub agent_join_delay: DelayRange,
    pub reply_delay: DelayRange,
    pub bot_typing: bool,
    /// `None` when switched off with `0`.
    pub system_message_interval: Option<Duration>,
    /// `None` when switched off with `0`.
    pub idle_timeout: Option<Duration>,
    pub seed: Option<u64>,
    pub require_apikey: bool,
    pub apikey: String,
    pub max_body: usize,
    pub max_text: usize,
    pub transcript_page: i64,
    pub max_connections: usize,
    pub max_pending: usize,
    pub scheduler_tick: Duration,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `--help` was asked for; not an error, the caller prints `help_text()`.
    Help,
    /// `--version` was asked for.
    Version,
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Help => f.write_str("help requested"),
            ConfigError::Version => f.write_str("version requested"),
            ConfigError::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Default for Config {
    fn default() -> Self {
        Config::parse(Vec::<String>::new(), |_| None).expect("the defaults parse")
    }
}

impl Config {
    /// Reads the process's arguments and environment.
    pub fn from_env_and_args() -> Result<Config, ConfigError> {
        Config::parse(std::env::args().skip(1), |k| std::env::var(k).ok())
    }

    /// Parses `args` (without the program name); `env` looks up environment variables.
    pub fn parse<I, S>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        // name -> (raw value, where it came from, for messages)
        let mut raw: HashMap<&'static str, (String, String)> = HashMap::new();
        for spec in OPTIONS {
            if let Some(v) = env(spec.env) {
                raw.insert(spec.name, (v, format!("environment variable {}", spec.env)));
            }
        }
        let mut args = args.into_iter().map(Into::into).peekable();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Err(ConfigError::Help);
            }
            if arg == "--version" || arg == "-V" {
                return Err(ConfigError::Version);
            }
            let Some(flag) = arg.strip_prefix("--") else {
                return Err(invalid(format!(
                    "unexpected argument '{arg}' (options start with --; see --help)"
                )));
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            let Some(spec) = OPTIONS.iter().find(|o| o.name == name) else {
                return Err(invalid(format!("unknown option '--{name}' (see --help)")));
            };
            let value = match inline {
                Some(v) => v,
                None if spec.value == "BOOL" => {
                    // A bare boolean flag means true; a following word that is not an option
                    // is its value (and is checked like any other).
                    match args.peek() {
                        Some(next) if !next.starts_with("--") => args.next().unwrap_or_default(),
                        _ => "true".to_string(),
                    }
                }
                None => args.next().ok_or_else(|| {
                    invalid(format!("option --{name} needs a value ({})", spec.value))
                })?,
            };
            raw.insert(spec.name, (value, format!("option --{name}")));
        }

        let get = |name: &'static str| -> Option<&(String, String)> { raw.get(name) };
        let value = |name: &'static str| -> (String, String) {
            match get(name) {
                Some((v, src)) => (v.clone(), src.clone()),
                None => {
                    let spec = OPTIONS.iter().find(|o| o.name == name).expect("known option");
                    (spec.default.to_string(), format!("default of --{name}"))
                }
            }
        };
        fn field<T>(
            (v, src): (String, String),
            what: &str,
            parse: impl Fn(&str) -> Option<T>,
        ) -> Result<T, ConfigError> {
            parse(v.trim())
                .ok_or_else(|| invalid(format!("invalid value '{v}' for {src}: expected {what}")))
        }

        let port =
            field(value("port"), "a port number from 0 to 65535", |s| s.parse::<u16>().ok())?;
        let bind = field(value("bind"), "an IP address such as 127.0.0.1 or 0.0.0.0", |s| {
            (s == "localhost" || s.parse::<std::net::IpAddr>().is_ok()).then(|| s.to_string())
        })?;
        let db = field(value("db"), "a file path", non_empty_path)?;
        let client_dir = match get("client-dir") {
            Some(_) => field(value("client-dir"), "a folder path", non_empty_path)?,
            None => default_client_dir(),
        };
        let log_dir = field(value("log-dir"), "a folder path", non_empty_path)?;
        let agent_mode = field(value("agent-mode"), "bot or manual", |s| match s {
            "bot" => Some(AgentMode::Bot),
            "manual" => Some(AgentMode::Manual),
            _ => None,
        })?;
        let agent_nickname = field(value("agent-nickname"), "a non-blank name", |s| {
            (!s.is_empty()).then(|| s.to_string())
        })?;
        let range_what = "a range MIN..MAX of durations such as 1s..4s (or one duration)";
        let agent_join_delay = field(value("agent-join-delay"), range_what, parse_range)?;
        let reply_delay = field(value("reply-delay"), range_what, parse_range)?;
        let bool_what = "true or false";
        let bot_typing = field(value("bot-typing"), bool_what, parse_bool)?;
        let dur_what = "a duration such as 250ms, 20s, 30m, or milliseconds";
        let system_message_interval =
            field(value("system-message-interval"), dur_what, parse_duration)?;
        let idle_timeout = field(value("idle-timeout"), dur_what, parse_duration)?;
        let seed = match get("seed") {
            Some(_) => Some(field(value("seed"), "a whole number", |s| s.parse::<u64>().ok())?),
            None => None,
        };
        let require_apikey = field(value("require-apikey"), bool_what, parse_bool)?;
        let apikey =
            field(value("apikey"), "a non-empty key", |s| (!s.is_empty()).then(|| s.to_string()))?;
        let max_body = field(
            value("max-body"),
            "a size such as 65536, 64KiB or 1MiB (at least 1KiB, at most 1GiB)",
            |s| parse_size(s).filter(|n| (1024..=1 << 30).contains(n)),
        )?;
        let count = |name: &'static str, max: usize| {
            field(value(name), &format!("a whole number from 1 to {max}"), |s| {
                s.parse::<usize>().ok().filter(|n| (1..=max).contains(n))
            })
        };
        let max_text = count("max-text", 1 << 24)?;
        let transcript_page = count("transcript-page", 1_000_000)? as i64;
        let max_connections = count("max-connections", 1 << 20)?;
        let max_pending = count("max-pending", 1 << 20)?;
        let scheduler_tick = field(value("scheduler-tick"), "a duration from 1ms to 10s", |s| {
            parse_duration(s)
                .filter(|d| *d >= Duration::from_millis(1) && *d <= Duration::from_secs(10))
        })?;

        Ok(Config {
            port,
            bind,
            db,
            client_dir,
            log_dir,
            agent_mode,
            agent_nickname,
            agent_join_delay,
            reply_delay,
            bot_typing,
            system_message_interval: nonzero(system_message_interval),
            idle_timeout: nonzero(idle_timeout),
            seed,
            require_apikey,
            apikey,
            max_body,
            max_text,
            transcript_page,
            max_connections,
            max_pending,
            scheduler_tick,
        })
    }
}

fn invalid(msg: String) -> ConfigError {
    ConfigError::Invalid(msg)
}

fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

fn non_empty_path(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// The project's `client/` folder: next to the working directory when run from a checkout,
/// else the folder the binary was built from.
fn default_client_dir() -> PathBuf {
    let here = PathBuf::from("client");
    if here.is_dir() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("client")
}

/// The `--help` text, listing every option with its environment variable and default.
pub fn help_text() -> String {
    let mut out = String::from(
        "gws-emulator: a local, durable emulator of the Genesys Web Services (GWS) chat API\n\n\
         Usage: gws-emulator [OPTIONS]\n\n\
         Every option can also be set by its environment variable; a flag wins over the environment.\n\
         Durations are milliseconds or carry a unit (250ms, 20s, 30m, 1h); a RANGE is MIN..MAX.\n\n\
         Options:\n",
    );
    for o in OPTIONS {
        out.push_str(&format!(
            "  --{} <{}>\n      {}\n      [env: {}] [default: {}]\n",
            o.name, o.value, o.help, o.env, o.default
        ));
    }
    out.push_str("  -h, --help\n      print this help\n  -V, --version\n      print the version\n");
    out
}

/// `250ms`, `20s`, `30m`, `1h`, or a bare number of milliseconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.checked_mul(1_000)?,
        "m" | "min" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    // Keep every duration well inside what millisecond timestamps can add without overflow.
    (ms <= 365 * 24 * 3_600_000).then(|| Duration::from_millis(ms))
}

/// `MIN..MAX` with MIN <= MAX, or a single duration meaning exactly that.
pub fn parse_range(s: &str) -> Option<DelayRange> {
    match s.split_once("..") {
        Some((a, b)) => {
            let (min, max) = (parse_duration(a)?, parse_duration(b)?);
            (min <= max).then_some(DelayRange { min, max })
        }
        None => parse_duration(s).map(|d| DelayRange { min: d, max: d }),
    }
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `65536`, `64KiB`, `64KB`, `1MiB` (KiB/KB/K are all 1024 bytes: this is a memory limit).
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> =
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::parse(args.iter().map(|s| s.to_string()), |k| env.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_spec() {
        let c = parse(&[], &[]).unwrap();
        assert_eq!(c.port, 8888);
        assert_eq!(c.bind, "127.0.0.1");
        assert_eq!(c.db, PathBuf::from("chat.db"));
        assert_eq!(c.log_dir, PathBuf::from("logs"));
        assert_eq!(c.agent_mode, AgentMode::Bot);
        let join = c.agent_join_delay;
        assert_eq!((join.min, join.max), (Duration::from_secs(1), Duration::from_secs(4)));
        assert!(join.max < Duration::from_secs(5), "the agent always joins within 5 s");
        assert_eq!(c.reply_delay.max, Duration::from_secs(2));
        assert!(c.bot_typing);
        assert_eq!(c.system_message_interval, Some(Duration::from_secs(20)));
        assert_eq!(c.idle_timeout, Some(Duration::from_secs(30 * 60)));
        assert_eq!(c.seed, None);
        assert!(!c.require_apikey);
        assert_eq!(c.max_body, 64 * 1024);
        assert_eq!((c.max_text, c.transcript_page), (16384, 1000));
    }

    #[test]
    fn flag_wins_over_environment() {
        let c =
            parse(&["--port", "9000"], &[("PORT", "7000"), ("GWS_AGENT_MODE", "manual")]).unwrap();
        assert_eq!(c.port, 9000);
        assert_eq!(c.agent_mode, AgentMode::Manual);
        let c = parse(&["--port=9001"], &[("PORT", "7000")]).unwrap();
        assert_eq!(c.port, 9001);
    }

    #[test]
    fn bad_values_name_the_option() {
        let err = parse(&["--port", "eighty"], &[]).unwrap_err().to_string();
        assert!(err.contains("--port") && err.contains("eighty"), "{err}");
        let err = parse(&[], &[("GWS_IDLE_TIMEOUT", "soon")]).unwrap_err().to_string();
        assert!(err.contains("GWS_IDLE_TIMEOUT"), "{err}");
        let err = parse(&["--reply-delay", "3s..1s"], &[]).unwrap_err().to_string();
        assert!(err.contains("--reply-delay"), "{err}");
        let err = parse(&["--nope"], &[]).unwrap_err().to_string();
        assert!(err.contains("--nope"), "{err}");
        let err = parse(&["--port"], &[]).unwrap_err().to_string();
        assert!(err.contains("needs a value"), "{err}");
    }

    #[test]
    fn durations_ranges_sizes_and_booleans() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("20s"), Some(Duration::from_secs(20)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("99999999999999999999"), None);
        let r = parse_range("100ms..2s").unwrap();
        assert_eq!((r.min, r.max), (Duration::from_millis(100), Duration::from_secs(2)));
        assert_eq!(parse_range("0").unwrap().max, Duration::ZERO);
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn bare_boolean_flags_mean_true() {
        let c = parse(&["--require-apikey", "--port", "1"], &[]).unwrap();
        assert!(c.require_apikey);
        let c = parse(&["--bot-typing", "false"], &[]).unwrap();
        assert!(!c.bot_typing);
        let c = parse(&["--system-message-interval", "0", "--idle-timeout=0"], &[]).unwrap();
        assert_eq!((c.system_message_interval, c.idle_timeout), (None, None));
    }

    #[test]
    fn help_lists_every_option() {
        let help = help_text();
        for o in OPTIONS {
            assert!(help.contains(&format!("--{}", o.name)));
            assert!(help.contains(o.env));
        }
        assert_eq!(parse(&["--help"], &[]).unwrap_err(), ConfigError::Help);
    }
}
