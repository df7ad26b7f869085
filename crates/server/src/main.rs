//! The `mxcd` binary: `mxcd serve [--config FILE]` and `mxcd register-user …`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use mxcd_server::{Config, cli::RegisterUser};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "mxcd",
    version,
    about = "A Matrix media server with Synapse's media admin API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server. With no configuration it uses SQLite and files under ./mxcd-data.
    Serve {
        /// TOML configuration file (see mxcd.example.toml).
        #[arg(short, long, env = "MXCD_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Create a user through shared-secret registration (like Synapse's register_new_matrix_user).
    RegisterUser(RegisterUser),
    /// Print the documented example configuration.
    ExampleConfig,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Serve { config } => serve(config).await,
        Command::RegisterUser(args) => args.run().await,
        Command::ExampleConfig => {
            print!("{}", mxcd_server::config::EXAMPLE);
            Ok(())
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mxcd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let cfg = Config::load(config.as_deref())?;
    let mut running = mxcd_server::start(cfg).await?;
    tokio::select! {
        r = running.wait() => r,
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            running.stop().await
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
