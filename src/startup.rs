//! Builds the application: opens the database, binds the listener (port 0 picks a free one,
//! which the tests use), starts the scheduler, and runs the HTTP server until it is stopped.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_files::Files;
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};

use std::os::fd::AsRawFd;

use crate::api::{self, middleware, traffic, AppState, Limits};
use crate::config::Config;
use crate::contact_centre::{ContactCentre, Scenario, Scenarios};
use crate::faults::Faults;
use crate::journal::Journal;
use crate::scheduler::{self, StopFlag};
use crate::store::{ClockStart, OpenError, Store, StoreOptions};

/// Why the emulator could not start or stopped early, as one line a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Logging(String),
    #[error(transparent)]
    Database(#[from] OpenError),
    #[error("{0}")]
    Listen(String),
    #[error("{0}")]
    Scenarios(String),
    #[error("the server stopped: {0}")]
    Stopped(std::io::Error),
}

/// What `main` does once the configuration is parsed: starts logging, runs the emulator until it
/// is stopped.
pub fn serve(config: Config) -> Result<(), StartError> {
    crate::logging::init(&config.log_dir).map_err(StartError::Logging)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config)?;
        app.run_until_stopped().await.map_err(StartError::Stopped)
    })
}

pub struct Application {
    server: Server,
    stop: StopFlag,
    store: Store,
    journal: Arc<Journal>,
}

impl Application {
    /// Opens the database, binds, and starts the scheduler. Call inside an actix system.
    pub fn build(config: Config) -> Result<Application, StartError> {
        let scenarios = Arc::new(load_scenarios(&config)?);
        let default = config.default_scenario();
        if scenarios.get(default).is_none() && !config.db.exists() {
            // Not a file scenario, and no database with run-time ones: refuse before creating it.
            return Err(StartError::Scenarios(format!(
                "no scenario {default:?} for --scenario; known: {}",
                scenarios.names()
            )));
        }
        let centre = Arc::new(ContactCentre::new(&config, scenarios.clone()));
        let store = Store::open(
            &config.db,
            StoreOptions {
                centre,
                max_pending: config.max_pending,
                clock: ClockStart { freeze: config.clock, at: config.clock_start },
            },
        )?;
        // Scenarios added at run time, kept in the database.
        for (name, document) in
            store.stored_scenarios().map_err(|e| StartError::Scenarios(e.to_string()))?
        {
            match serde_json::from_str(&document)
                .map_err(|e| e.to_string())
                .and_then(|doc| Scenario::parse(&doc, Some(&name)))
            {
                Ok(scenario) => scenarios.put(scenario),
                Err(e) => log::warn!("the stored scenario {name:?} is skipped: {e}"),
            }
        }
        if scenarios.get(default).is_none() {
            return Err(StartError::Scenarios(format!(
                "no scenario {default:?} for --scenario; known: {}",
                scenarios.names()
            )));
        }
        let listener = TcpListener::bind((config.bind.as_str(), config.port)).map_err(|e| {
            let addr = format!("{}:{}", config.bind, config.port);
            StartError::Listen(match e.kind() {
                std::io::ErrorKind::AddrInUse => format!(
                    "cannot listen on {addr}: the port is in use (is another emulator running?); pick another with --port"
                ),
                _ => format!("cannot listen on {addr}: {e}; check --bind and --port"),
            })
        })?;
        let local = listener.local_addr().map_err(|e| StartError::Listen(e.to_string()))?;
        let stop = StopFlag::default();
        let journal = Arc::new(Journal::new(config.journal_size));
        let scheduler =
            scheduler::Settings { tick: config.scheduler_tick, retention: config.retention };
        let state = web::Data::new(AppState {
            store: store.clone(),
            limits: Limits {
                max_body: config.max_body,
                max_text: config.max_text,
                transcript_page: config.transcript_page,
            },
            apikey: config.require_apikey.then(|| config.apikey.clone()),
            admin_token: config.admin_token.clone(),
            faults: Arc::new(Faults::new(config.seed)),
            journal: journal.clone(),
            scheduler: stop.clone(),
            settings: scheduler,
            started: Instant::now(),
        });
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let client_dir = config.client_dir.clone();
        if !client_dir.is_dir() {
            log::warn!(
                "client folder {} not found; /client/ will answer 404",
                client_dir.display()
            );
        }
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(from_fn(middleware::auth))
                .wrap(from_fn(traffic::customer_traffic))
                .wrap(from_fn(middleware::http_rules))
                .wrap(from_fn(middleware::log_request))
                .configure(api::routes)
                .route(
                    "/",
                    web::get().to(|| async {
                        HttpResponse::Found().insert_header(("Location", "/client/")).finish()
                    }),
                )
                .service(
                    Files::new("/client", &client_dir)
                        .index_file("index.html")
                        .redirect_to_slash_directory()
                        .default_handler(web::to(api::not_found)),
                )
                .default_service(web::to(api::not_found))
        })
        .on_connect(|io, data| {
            data.insert(middleware::ClosingConnection::default());
            if let Some(stream) = io.downcast_ref::<actix_web::rt::net::TcpStream>() {
                data.insert(traffic::ConnectionFd(stream.as_raw_fd()));
            }
        })
        .workers(workers)
        .max_connections(config.max_connections.div_ceil(workers))
        .backlog(2048)
        .listen(listener)
        .map_err(|e| StartError::Listen(format!("cannot listen on {local}: {e}")))?
        .shutdown_timeout(5)
        .disable_signals()
        .run();

        scheduler::spawn(store.clone(), scheduler, stop.clone());
        flush_journal(store.clone(), journal.clone(), stop.clone());
        watch_database_file(store.clone(), stop.clone());
        let url = format!("http://{local}/");
        log::info!(
            "gws-emulator {} listening on {url} (database {}, agent mode {})",
            env!("CARGO_PKG_VERSION"),
            store.path().display(),
            config.agent_mode.as_str()
        );
        if config.admin_token.is_none() && !is_loopback(&config.bind) {
            let warning = format!(
                "WARNING: listening on {} without --admin-token: anyone who can reach port {} can \
                 read every chat, act as the agent and delete every chat through /__admin. Set \
                 --admin-token (or GWS_ADMIN_TOKEN), or bind to 127.0.0.1.",
                config.bind,
                local.port()
            );
            log::warn!("{warning}");
            eprintln!("{warning}");
        }
        // The first line on stdout, for people and for tests that started us on port 0.
        println!("gws-emulator listening on {url}");
        Ok(Application { server, stop, store, journal })
    }

    /// Runs until SIGINT (Ctrl-C) or SIGTERM. The scheduler stops first, so no simulated
    /// work happens while the server drains its requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let (stop, events) = (self.stop.clone(), self.store.events().clone());
        actix_web::rt::spawn(async move {
            let signal = shutdown_signal().await;
            log::info!("{signal} received: stopping");
            stop.stop();
            // Event streams and long polls end now, so the server can drain.
            events.close();
            handle.stop(true).await;
        });
        self.server.await?;
        self.stop.stop();
        if let Err(e) = self.store.flush_journal(&self.journal).await {
            log::warn!("the last journal entries could not be written: {e}");
        }
        // Leave an empty write-ahead log beside chat.db.
        let store = self.store.clone();
        let _ = web::block(move || store.checkpoint()).await;
        log::info!("stopped");
        Ok(())
    }
}

/// About once a second, writes the journal's queued entries to SQLite.
fn flush_journal(store: Store, journal: Arc<Journal>, stop: StopFlag) {
    if !journal.enabled() {
        return;
    }
    actix_web::rt::spawn(async move {
        let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
        while !stop.is_stopped() {
            ticks.tick().await;
            if !journal.is_empty() {
                if let Err(e) = store.flush_journal(&journal).await {
                    log::warn!("the request journal could not be written: {e}");
                }
            }
        }
    });
}

/// Every second, checks that the database file is still the one open; if it was deleted (a
/// reset by hand) the store starts over on a fresh file. A failed reopen is retried.
fn watch_database_file(store: Store, stop: StopFlag) {
    actix_web::rt::spawn(async move {
        let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
        let mut failing = false;
        while !stop.is_stopped() {
            ticks.tick().await;
            let s = store.clone();
            match web::block(move || s.reopen_if_gone()).await {
                Ok(Ok(_)) => failing = false,
                Ok(Err(e)) if !failing => {
                    failing = true;
                    log::error!("{e}; retrying every second");
                }
                Ok(Err(_)) => {}
                Err(e) => log::error!("database watch failed: {e}"),
            }
        }
    });
}

/// The scenarios of `--scenarios-dir` (a missing default folder leaves the built-in ones).
fn load_scenarios(config: &Config) -> Result<Scenarios, StartError> {
    let dir = &config.scenarios_dir;
    if !dir.is_dir() && !config.scenarios_dir_given {
        log::warn!(
            "scenarios folder {} not found; only the built-in scenarios bot and manual are known",
            dir.display()
        );
        return Ok(Scenarios::built_in());
    }
    Scenarios::load(dir).map_err(StartError::Scenarios)
}

fn is_loopback(bind: &str) -> bool {
    bind == "localhost" || bind.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("cannot listen for SIGTERM ({e}); stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
