//! `bjnp-watch`: parses the flags and wires a capture source, the engine and the output stage
//! together. The loops, the errors and their exit statuses live in the library (`run`).

use bjnp_watch::cli::{Cli, Command};
use bjnp_watch::run::setup::{inventory, monitor, verify};
use bjnp_watch::run::RunError;
use clap::CommandFactory;
use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse_checked();
    bjnp_watch::report::init_diagnostics(cli.log_level());
    let result = match &cli.command {
        Some(Command::Inventory(args)) => inventory(args),
        Some(Command::Verify(args)) => return verify(args),
        Some(Command::Completions { shell }) => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "bjnp-watch", &mut io::stdout());
            Ok(())
        }
        Some(Command::Man) => clap_mangen::Man::new(Cli::command())
            .render(&mut io::stdout())
            .map_err(|e| RunError::from_write(e, RunError::Write)),
        None if cli.check_config => {
            bjnp_watch::run::open::check_config(&cli).map(|s| print!("{s}"))
        }
        None => monitor(&cli),
    };
    match result {
        Ok(()) | Err(RunError::OutputClosed) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bjnp-watch: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
