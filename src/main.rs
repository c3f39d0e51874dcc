//! `cms-server`: runs the server, or an admin command.

use clap::Parser;
use cms_server::cli::{AdminCommand, BillingCommand, Cli, Command};
use cms_server::config::Config;
use cms_server::startup::Application;
use cms_server::telemetry::error_chain;
use cms_server::{admin, seed, telemetry};

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let output = match cli.command {
        None | Some(Command::Serve) => telemetry::Output::Stdout,
        Some(_) => telemetry::Output::Stderr,
    };
    telemetry::init_to(&config.log, output);
    let result = match cli.command {
        None | Some(Command::Serve) => serve(config).await,
        Some(Command::Admin(AdminCommand::Create { email, name })) => {
            admin::create_from_stdin(&config, &email, name.as_deref()).await
        }
        Some(Command::Billing(BillingCommand::Reconcile { from, to })) => {
            cms_server::billing::reconcile::run(&config, &from, &to).await
        }
        Some(Command::Seed {
            conversations,
            members,
            token_hours,
            out,
        }) => {
            let spec = seed::SeedSpec {
                conversations,
                members,
                token_ttl: chrono::Duration::hours(token_hours),
            };
            seed::run(&config, spec, &out).await
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "stopped with an error");
            eprintln!("error: {}", error_chain(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::build(config).await?;
    println!("cms-server listening on http://{}", app.address());
    app.run_until_stopped().await?;
    Ok(())
}
