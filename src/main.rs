//! The `gatehouse` binary: parse the command line, load the configuration, hand over.

use std::process::ExitCode;

use clap::Parser;
use gatehouse::cli::{self, Cli, Command, UserAction};
use gatehouse::config::{LogFormat, Settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (settings, warnings) = match cli::load_settings(&cli) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("gatehouse: configuration error: {error:#}");
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Command::CheckConfig => {
            cli::check_config(&settings, &warnings);
            Ok(())
        }
        Command::Healthcheck => cli::healthcheck(&settings),
        Command::RecoveryKey { username, duration } => {
            cli::recovery_key(&settings, username, duration)
                .map(|path| println!("{}{path}", cli::base_url(&settings)))
        }
        Command::User {
            action: UserAction::SetPassword { username },
        } => {
            cli::set_password(&settings, username).map(|()| println!("password set for {username}"))
        }
        Command::TestEmail { address } => {
            cli::test_email(&settings, address).map(|()| println!("sent"))
        }
        Command::Backup { file } => cli::backup(&settings, file).map(|line| println!("{line}")),
        Command::Restore { file, force } => {
            cli::restore(&settings, file, *force).map(|line| println!("{line}"))
        }
        Command::Serve => serve(settings, &warnings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gatehouse: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: Settings, warnings: &[String]) -> anyhow::Result<()> {
    init_logging(&settings);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(64)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let running = gatehouse::app::start_default(settings).await?;
        let systemd = gatehouse::service::Notifier::from_env();
        systemd.ready();
        let watchdog = systemd.spawn_watchdog();
        gatehouse::app::shutdown_signal().await;
        tracing::info!("shutting down");
        systemd.stopping();
        // Stopping lets requests in flight finish (at most 10 s: the HTTP server's shutdown_timeout),
        // then flushes the ephemeral state; keep pinging the watchdog meanwhile.
        running.stop().await;
        if let Some(watchdog) = watchdog {
            watchdog.abort();
        }
        tracing::info!("stopped");
        Ok(())
    })
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match settings.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
