use std::process::ExitCode;

use gws_emulator::config::{help_text, Config, ConfigError};
use gws_emulator::logging;
use gws_emulator::startup::Application;

fn main() -> ExitCode {
    let config = match Config::from_env_and_args() {
        Ok(config) => config,
        Err(ConfigError::Help) => {
            print!("{}", help_text());
            return ExitCode::SUCCESS;
        }
        Err(ConfigError::Version) => {
            println!("gws-emulator {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(ConfigError::Invalid(msg)) => {
            eprintln!("gws-emulator: {msg}");
            return ExitCode::from(2);
        }
    };
    if let Err(msg) = logging::init(&config.log_dir) {
        eprintln!("gws-emulator: {msg}");
        return ExitCode::from(1);
    }
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config).map_err(|e| e.0)?;
        app.run_until_stopped().await.map_err(|e| format!("the server stopped: {e}"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("gws-emulator: {msg}");
            ExitCode::from(1)
        }
    }
}
