//! Configuration: every option by command-line flag or environment variable (the flag wins),
//! parsed by `clap` from one struct. Our value parsers (durations, ranges, sizes, booleans) give
//! the "expected …" half of each error; `Config::from_args` turns clap's errors into one line
//! naming the option or the environment variable that was wrong.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

use crate::domain::AgentMode;

/// The documented GWS sample key; checked only with `--require-apikey`.
pub const DEFAULT_APIKEY: &str = "N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44";

/// The longest duration any option takes: a year, well inside what millisecond timestamps add.
const MAX_DURATION_MS: u64 = 365 * 24 * 3_600_000;

/// An inclusive range of durations, written `MIN..MAX` (or a single duration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayRange {
    pub min: Duration,
    pub max: Duration,
}

/// The command line as clap sees it. `Config` is what the rest of the emulator uses.
#[derive(Debug, Parser)]
#[command(
    name = "gws-emulator",
    version,
    about = "gws-emulator: a local, durable emulator of the Genesys Web Services (GWS) chat API",
    after_help = "Every option can also be set by its environment variable; a flag wins over the environment.\n\
                  Durations are milliseconds or carry a unit (250ms, 20s, 30m, 2h, 7d); a RANGE is MIN..MAX.",
    hide_possible_values = true
)]
struct Cli {
    /// TCP port to listen on (0 picks a free one)
    #[arg(long, allow_hyphen_values = true, env = "PORT", value_name = "PORT", default_value = "8888",
          value_parser = port, hide_env_values = true)]
    port: u16,

    /// Address to listen on; beyond loopback, set --admin-token (the admin API reads and deletes every chat)
    #[arg(long, allow_hyphen_values = true, env = "GWS_BIND", value_name = "ADDR", default_value = "127.0.0.1",
          value_parser = bind_address, hide_env_values = true)]
    bind: String,

    /// SQLite database file (created if missing; delete it to reset)
    #[arg(long, allow_hyphen_values = true, env = "GWS_DB", value_name = "PATH", default_value = "chat.db",
          value_parser = path, hide_env_values = true)]
    db: PathBuf,

    /// Folder served at /client/ [default: the project's client/ folder]
    #[arg(long, allow_hyphen_values = true, env = "GWS_CLIENT_DIR", value_name = "DIR", value_parser = path,
          hide_env_values = true)]
    client_dir: Option<PathBuf>,

    /// Folder for chat.log (rotated at 10 MiB, 3 old files kept)
    #[arg(long, allow_hyphen_values = true, env = "GWS_LOG_DIR", value_name = "DIR", default_value = "logs",
          value_parser = path, hide_env_values = true)]
    log_dir: PathBuf,

    /// bot: an agent joins and replies by itself; manual: drive the agent through /__admin (the same as --scenario manual)
    #[arg(long, allow_hyphen_values = true, env = "GWS_AGENT_MODE", value_name = "bot|manual", default_value = "bot",
          value_parser = agent_mode, hide_env_values = true)]
    agent_mode: AgentMode,

    /// Nickname of the bot agent
    #[arg(long, allow_hyphen_values = true, env = "GWS_AGENT_NICKNAME", value_name = "NAME", default_value = "Kate",
          value_parser = non_blank, hide_env_values = true)]
    agent_nickname: String,

    /// Random delay before the bot agent joins
    #[arg(long, allow_hyphen_values = true, env = "GWS_AGENT_JOIN_DELAY", value_name = "RANGE", default_value = "1s..4s",
          value_parser = range, hide_env_values = true)]
    agent_join_delay: DelayRange,

    /// Random delay before the bot answers a customer message
    #[arg(long, allow_hyphen_values = true, env = "GWS_REPLY_DELAY", value_name = "RANGE", default_value = "0s..2s",
          value_parser = range, hide_env_values = true)]
    reply_delay: DelayRange,

    /// The bot sends TypingStarted before a reply and TypingStopped after it
    #[arg(long, env = "GWS_BOT_TYPING", value_name = "BOOL", default_value = "true",
          num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set,
          value_parser = boolean, hide_env_values = true)]
    bot_typing: bool,

    /// How often the system participant posts a message (0 = off)
    #[arg(long, allow_hyphen_values = true, env = "GWS_SYSTEM_MESSAGE_INTERVAL", value_name = "DURATION",
          default_value = "20s", value_parser = duration, hide_env_values = true)]
    system_message_interval: Duration,

    /// Close a chat after this long without a customer operation (0 = off)
    #[arg(long, allow_hyphen_values = true, env = "GWS_IDLE_TIMEOUT", value_name = "DURATION", default_value = "30m",
          value_parser = duration, hide_env_values = true)]
    idle_timeout: Duration,

    /// Seed for every random choice (chat ids, delays), for reproducible runs [default: random]
    #[arg(long, allow_hyphen_values = true, env = "GWS_SEED", value_name = "N", value_parser = seed, hide_env_values = true)]
    seed: Option<u64>,

    /// Refuse customer API requests without the right apikey header (401)
    #[arg(long, env = "GWS_REQUIRE_APIKEY", value_name = "BOOL", default_value = "false",
          num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set,
          value_parser = boolean, hide_env_values = true)]
    require_apikey: bool,

    /// The key checked by --require-apikey
    #[arg(long, allow_hyphen_values = true, env = "GWS_APIKEY", value_name = "KEY", default_value = DEFAULT_APIKEY,
          value_parser = non_empty, hide_env_values = true)]
    apikey: String,

    /// Largest request body accepted (413 above it)
    #[arg(long, allow_hyphen_values = true, env = "GWS_MAX_BODY", value_name = "SIZE", default_value = "64KiB",
          value_parser = body_size, hide_env_values = true)]
    max_body: usize,

    /// Longest message or notice text, in characters (400 above it; 0 = no cap: any text that fits in --max-body)
    #[arg(long, allow_hyphen_values = true, env = "GWS_MAX_TEXT", value_name = "CHARS", default_value = "0",
          value_parser = cap::<{ 1 << 24 }>, hide_env_values = true)]
    max_text: usize,

    /// Most messages one GetTranscript returns, the next call (or index) getting the rest (0 = no cap: every message, as GWS documents)
    #[arg(long, allow_hyphen_values = true, env = "GWS_TRANSCRIPT_PAGE", value_name = "N", default_value = "0",
          value_parser = cap::<1_000_000>, hide_env_values = true)]
    transcript_page: usize,

    /// Open HTTP connections served at once; more wait to be accepted
    #[arg(long, allow_hyphen_values = true, env = "GWS_MAX_CONNECTIONS", value_name = "N", default_value = "4096",
          value_parser = count::<{ 1 << 20 }>, hide_env_values = true)]
    max_connections: usize,

    /// Requests waiting for the database at once; more are answered 503
    #[arg(long, allow_hyphen_values = true, env = "GWS_MAX_PENDING", value_name = "N", default_value = "1024",
          value_parser = count::<{ 1 << 20 }>, hide_env_values = true)]
    max_pending: usize,

    /// How often the scheduler looks for due work
    #[arg(long, allow_hyphen_values = true, env = "GWS_SCHEDULER_TICK", value_name = "DURATION", default_value = "20ms",
          value_parser = tick, hide_env_values = true)]
    scheduler_tick: Duration,

    /// The emulator's clock at start: frozen (only POST /__admin/clock moves it) or real [default: as stored in the database; real on a new one]
    #[arg(long, allow_hyphen_values = true, env = "GWS_CLOCK", value_name = "frozen|real",
          value_parser = clock_mode, hide_env_values = true)]
    clock: Option<bool>,

    /// The emulator's time at start on a new database, e.g. 2026-01-01T00:00:00Z or milliseconds since the epoch (with --clock frozen and --seed, runs are identical byte for byte) [default: the wall clock]
    #[arg(long, allow_hyphen_values = true, env = "GWS_CLOCK_START", value_name = "INSTANT",
          value_parser = instant, hide_env_values = true)]
    clock_start: Option<i64>,

    /// Ended (Idle) chats are deleted this long after they ended, with their messages (0 = kept forever)
    #[arg(long, allow_hyphen_values = true, env = "GWS_RETENTION", value_name = "DURATION", default_value = "7d",
          value_parser = duration, hide_env_values = true)]
    retention: Duration,

    /// Folder of the agent scenarios (*.json) [default: the project's scenarios/ folder]
    #[arg(long, allow_hyphen_values = true, env = "GWS_SCENARIOS_DIR", value_name = "DIR",
          value_parser = path, hide_env_values = true)]
    scenarios_dir: Option<PathBuf>,

    /// The scenario of a chat whose RequestChat names none in userData.scenario [default: bot; manual with --agent-mode manual]
    #[arg(long, allow_hyphen_values = true, env = "GWS_SCENARIO", value_name = "NAME",
          value_parser = scenario_name, hide_env_values = true)]
    scenario: Option<String>,

    /// Customer API requests kept in the request journal (table requests), oldest dropped (0 = off)
    #[arg(long, allow_hyphen_values = true, env = "GWS_JOURNAL_SIZE", value_name = "N", default_value = "10000",
          value_parser = cap::<10_000_000>, hide_env_values = true)]
    journal_size: usize,

    /// Every /__admin route requires the header Authorization: Bearer <TOKEN> [default: none, the admin API is open]
    #[arg(long, allow_hyphen_values = true, env = "GWS_ADMIN_TOKEN", value_name = "TOKEN",
          value_parser = non_empty_token, hide_env_values = true)]
    admin_token: Option<String>,
}

/// The emulator's settings, parsed and checked.
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
    /// `None`: no cap but the body limit.
    pub max_text: Option<usize>,
    /// `None`: every message in one read.
    pub transcript_page: Option<i64>,
    pub max_connections: usize,
    pub max_pending: usize,
    pub scheduler_tick: Duration,
    /// Frozen (true) or real (false) at start; `None` keeps the stored state.
    pub clock: Option<bool>,
    /// The emulator's time at start on a new database.
    pub clock_start: Option<i64>,
    /// `None`: ended chats are kept forever.
    pub retention: Option<Duration>,
    pub admin_token: Option<String>,
    /// The folder of scenario files, and whether it was given (a missing default is no error).
    pub scenarios_dir: PathBuf,
    pub scenarios_dir_given: bool,
    /// `--scenario`, when given.
    pub scenario: Option<String>,
    /// Entries of the request journal (0: off).
    pub journal_size: usize,
}

impl Config {
    /// The scenario of a chat that names none: `--scenario`, else `manual` in manual agent mode,
    /// else `bot`.
    pub fn default_scenario(&self) -> &str {
        match (&self.scenario, self.agent_mode) {
            (Some(name), _) => name,
            (None, AgentMode::Manual) => "manual",
            (None, AgentMode::Bot) => "bot",
        }
    }
}

/// Why there is no configuration to run with.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `--help` or `--version` was asked for: not an error; the text is to be printed as is.
    #[error("{0}")]
    Info(String),
    /// A bad option or value, in one line naming it.
    #[error("{0}")]
    Invalid(String),
}

impl Default for Config {
    fn default() -> Self {
        Config::from_args(["gws-emulator"]).expect("the defaults parse")
    }
}

impl Config {
    /// Reads the process's arguments and environment.
    pub fn from_env_and_args() -> Result<Config, ConfigError> {
        Config::from_args(std::env::args_os())
    }

    /// Parses `args` (with the program name first) and the process's environment.
    pub fn from_args<I, S>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let matches =
            Cli::command().try_get_matches_from(&args).map_err(|e| one_line_error(e, &args))?;
        let cli = Cli::from_arg_matches(&matches).map_err(|e| one_line_error(e, &args))?;
        Ok(cli.into_config())
    }
}

impl Cli {
    fn into_config(self) -> Config {
        Config {
            port: self.port,
            bind: self.bind,
            db: self.db,
            client_dir: self.client_dir.unwrap_or_else(|| project_dir("client")),
            log_dir: self.log_dir,
            agent_mode: self.agent_mode,
            agent_nickname: self.agent_nickname,
            agent_join_delay: self.agent_join_delay,
            reply_delay: self.reply_delay,
            bot_typing: self.bot_typing,
            system_message_interval: nonzero(self.system_message_interval),
            idle_timeout: nonzero(self.idle_timeout),
            seed: self.seed,
            require_apikey: self.require_apikey,
            apikey: self.apikey,
            max_body: self.max_body,
            max_text: (self.max_text > 0).then_some(self.max_text),
            transcript_page: (self.transcript_page > 0).then_some(self.transcript_page as i64),
            max_connections: self.max_connections,
            max_pending: self.max_pending,
            scheduler_tick: self.scheduler_tick,
            clock: self.clock,
            clock_start: self.clock_start,
            retention: nonzero(self.retention),
            admin_token: self.admin_token,
            scenarios_dir_given: self.scenarios_dir.is_some(),
            scenarios_dir: self.scenarios_dir.unwrap_or_else(|| project_dir("scenarios")),
            scenario: self.scenario,
            journal_size: self.journal_size,
        }
    }
}

/// clap's error as one line: `invalid value 'soon' for option --idle-timeout: expected …`,
/// naming the environment variable when the value came from there.
fn one_line_error(e: clap::Error, args: &[OsString]) -> ConfigError {
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    // "--port <PORT>" -> "--port"
    let flag = context(ContextKind::InvalidArg)
        .map(|a| a.split_whitespace().next().unwrap_or_default().to_string());
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ConfigError::Info(e.to_string()),
        ErrorKind::UnknownArgument => {
            let arg = flag.unwrap_or_default();
            ConfigError::Invalid(if arg.starts_with('-') {
                let name = arg.split('=').next().unwrap_or_default();
                format!("unknown option '{name}' (see --help)")
            } else {
                format!("unexpected argument '{arg}' (options start with --; see --help)")
            })
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let flag = flag.unwrap_or_default();
            let value = context(ContextKind::InvalidValue).unwrap_or_default();
            let given_on_command_line = args.iter().skip(1).any(|a| {
                let a = a.to_string_lossy();
                a == flag || a.starts_with(&format!("{flag}="))
            });
            let source = if given_on_command_line {
                format!("option {flag}")
            } else {
                let env = Cli::command()
                    .get_arguments()
                    .find(|a| a.get_long().is_some_and(|l| format!("--{l}") == flag))
                    .and_then(|a| a.get_env())
                    .map(|v| v.to_string_lossy().into_owned());
                match env {
                    Some(env) => format!("environment variable {env}"),
                    None => format!("option {flag}"),
                }
            };
            if value.is_empty() && e.kind() == ErrorKind::InvalidValue && given_on_command_line {
                let wanted = Cli::command()
                    .get_arguments()
                    .find(|a| a.get_long().is_some_and(|l| format!("--{l}") == flag))
                    .and_then(|a| a.get_value_names().and_then(|v| v.first().cloned()))
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "a value".into());
                return ConfigError::Invalid(format!("{source} needs a value ({wanted})"));
            }
            let reason = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "not a valid value".into());
            ConfigError::Invalid(format!("invalid value '{value}' for {source}: {reason}"))
        }
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            ConfigError::Invalid(first.trim_start_matches("error: ").to_string())
        }
    }
}

fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// A folder of the project (`client/`, `scenarios/`): in the working directory when run from a
/// checkout, else where the binary was built from.
fn project_dir(name: &str) -> PathBuf {
    let here = PathBuf::from(name);
    if here.is_dir() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

// ---- value parsers: each error is the "expected …" half of the one-line message ----

fn port(s: &str) -> Result<u16, String> {
    s.trim().parse().map_err(|_| "expected a port number from 0 to 65535".into())
}

fn bind_address(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s == "localhost" || s.parse::<std::net::IpAddr>().is_ok() {
        Ok(s.to_string())
    } else {
        Err("expected an IP address such as 127.0.0.1 or 0.0.0.0".into())
    }
}

fn path(s: &str) -> Result<PathBuf, String> {
    let s = s.trim();
    if s.is_empty() {
        Err("expected a path".into())
    } else {
        Ok(PathBuf::from(s))
    }
}

fn agent_mode(s: &str) -> Result<AgentMode, String> {
    match s.trim() {
        "bot" => Ok(AgentMode::Bot),
        "manual" => Ok(AgentMode::Manual),
        _ => Err("expected bot or manual".into()),
    }
}

fn non_blank(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        Err("expected a non-blank name".into())
    } else {
        Ok(s.to_string())
    }
}

fn non_empty(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        Err("expected a non-empty key".into())
    } else {
        Ok(s.to_string())
    }
}

fn range(s: &str) -> Result<DelayRange, String> {
    parse_range(s.trim()).ok_or_else(|| {
        "expected a range MIN..MAX of durations such as 1s..4s (or one duration)".into()
    })
}

fn boolean(s: &str) -> Result<bool, String> {
    parse_bool(s.trim()).ok_or_else(|| "expected true or false".into())
}

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s.trim())
        .ok_or_else(|| "expected a duration such as 250ms, 20s, 30m, or milliseconds".into())
}

fn tick(s: &str) -> Result<Duration, String> {
    parse_duration(s.trim())
        .filter(|d| *d >= Duration::from_millis(1) && *d <= Duration::from_secs(10))
        .ok_or_else(|| "expected a duration from 1ms to 10s".into())
}

fn seed(s: &str) -> Result<u64, String> {
    s.trim().parse().map_err(|_| "expected a whole number".into())
}

fn body_size(s: &str) -> Result<usize, String> {
    parse_size(s.trim()).filter(|n| (1024..=1 << 30).contains(n)).ok_or_else(|| {
        "expected a size such as 65536, 64KiB or 1MiB (at least 1KiB, at most 1GiB)".into()
    })
}

/// A cap that is off with 0.
fn cap<const MAX: usize>(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX)
        .ok_or_else(|| format!("expected a whole number from 1 to {MAX}, or 0 for no cap"))
}

fn clock_mode(s: &str) -> Result<bool, String> {
    match s.trim() {
        "frozen" => Ok(true),
        "real" => Ok(false),
        _ => Err("expected frozen or real".into()),
    }
}

fn scenario_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    if crate::contact_centre::scenario::valid_name(s) {
        Ok(s.to_string())
    } else {
        Err("expected a scenario name such as bot, manual or never-joins".into())
    }
}

fn non_empty_token(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Err("expected a token without spaces".into())
    } else {
        Ok(s.to_string())
    }
}

fn instant(s: &str) -> Result<i64, String> {
    parse_instant(s.trim()).ok_or_else(|| {
        "expected a UTC time such as 2026-01-01T00:00:00Z or milliseconds since the epoch".into()
    })
}

/// `2026-01-01T00:00:00Z` (optionally with `.sss` milliseconds), `2026-01-01`, or milliseconds
/// since the epoch, as milliseconds since the epoch.
pub fn parse_instant(s: &str) -> Option<i64> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, t.strip_suffix('Z')?),
        None => (s, "00:00:00"),
    };
    let num = |p: &str| p.parse::<i64>().ok();
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) || y < 1970 {
        return None;
    }
    let (hms, millis) = match time.split_once('.') {
        Some((hms, frac)) if frac.len() == 3 => (hms, num(frac)?),
        Some(_) => return None,
        None => (time, 0),
    };
    let mut t = hms.split(':');
    let (h, min, sec) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if t.next().is_some() || h > 23 || min > 59 || sec > 59 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + min) * 60_000 + sec * 1000 + millis)
}

fn count<const MAX: usize>(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX).contains(n))
        .ok_or_else(|| format!("expected a whole number from 1 to {MAX}"))
}

/// `250ms`, `20s`, `30m`, `2h`, `7d`, or a bare number of milliseconds; at most a year.
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
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    (ms <= MAX_DURATION_MS).then(|| Duration::from_millis(ms))
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

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        Config::from_args(std::iter::once("gws-emulator").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_documentation() {
        let c = parse(&[]).unwrap();
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
        assert_eq!((c.max_text, c.transcript_page), (None, None), "caps are opt-in");
        assert_eq!(c.retention, Some(Duration::from_secs(7 * 86400)));
        assert_eq!((c.clock, c.clock_start, c.admin_token.as_deref()), (None, None, None));
    }

    #[test]
    fn both_flag_spellings_work() {
        assert_eq!(parse(&["--port", "9000"]).unwrap().port, 9000);
        assert_eq!(parse(&["--port=9001"]).unwrap().port, 9001);
    }

    #[test]
    fn bad_values_name_the_option_in_one_line() {
        let err = parse(&["--port", "eighty"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid value 'eighty' for option --port: expected a port number from 0 to 65535"
        );
        let err = parse(&["--reply-delay", "3s..1s"]).unwrap_err().to_string();
        assert!(err.contains("--reply-delay"), "{err}");
        let err = parse(&["--nope"]).unwrap_err().to_string();
        assert_eq!(err, "unknown option '--nope' (see --help)");
        let err = parse(&["--port"]).unwrap_err().to_string();
        assert_eq!(err, "option --port needs a value (PORT)");
        let err = parse(&["stray"]).unwrap_err().to_string();
        assert!(err.contains("'stray'"), "{err}");
    }

    #[test]
    fn durations_ranges_sizes_and_booleans() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("20s"), Some(Duration::from_secs(20)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("366d"), None);
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
    fn instants() {
        assert_eq!(parse_instant("0"), Some(0));
        assert_eq!(parse_instant("1767225600000"), Some(1_767_225_600_000));
        assert_eq!(parse_instant("2026-01-01T00:00:00Z"), Some(1_767_225_600_000));
        assert_eq!(parse_instant("2026-01-01"), Some(1_767_225_600_000));
        assert_eq!(parse_instant("2000-02-29T12:34:56.789Z"), Some(951_827_696_789));
        for bad in ["", "soon", "2026-13-01", "2026-01-01T25:00:00Z", "2026-01-01T00:00:00", "-5"] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn caps_are_opt_in_and_zero_switches_them_off() {
        let c = parse(&["--max-text", "10", "--transcript-page", "100"]).unwrap();
        assert_eq!((c.max_text, c.transcript_page), (Some(10), Some(100)));
        let c = parse(&["--max-text", "0", "--transcript-page", "0", "--retention", "0"]).unwrap();
        assert_eq!((c.max_text, c.transcript_page, c.retention), (None, None, None));
    }

    #[test]
    fn bare_boolean_flags_mean_true() {
        let c = parse(&["--require-apikey", "--port", "1"]).unwrap();
        assert!(c.require_apikey);
        let c = parse(&["--bot-typing", "false"]).unwrap();
        assert!(!c.bot_typing);
        let c = parse(&["--system-message-interval", "0", "--idle-timeout=0"]).unwrap();
        assert_eq!((c.system_message_interval, c.idle_timeout), (None, None));
    }

    #[test]
    fn help_lists_every_option_with_its_environment_variable() {
        let help = match parse(&["--help"]) {
            Err(ConfigError::Info(text)) => text,
            other => panic!("--help gave {other:?}"),
        };
        for arg in Cli::command().get_arguments() {
            if let Some(long) = arg.get_long() {
                assert!(help.contains(&format!("--{long}")), "--help lacks --{long}");
            }
            if let Some(env) = arg.get_env() {
                assert!(help.contains(&*env.to_string_lossy()), "--help lacks {env:?}");
            }
        }
    }
}
