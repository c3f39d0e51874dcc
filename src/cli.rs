//! Command line: flags that override the config file, and subcommands.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cms-server",
    version,
    about = "CMS Education Platform real-time server"
)]
pub struct Cli {
    /// Config file (TOML); missing is fine.
    #[arg(long, default_value = "cms.toml")]
    pub config: String,
    /// host:port to listen on (overrides `listen`).
    #[arg(long)]
    pub listen: Option<String>,
    /// Database URL (overrides `database.url`).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Log as JSON lines.
    #[arg(long)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Billing's operations.
    #[command(subcommand)]
    Billing(BillingCommand),
    /// Bulk accounts for load runs: families, tutors, a conversation each,
    /// and a token per account, written as JSON. Run before `serve`.
    Seed {
        /// Conversations to make.
        #[arg(long, default_value_t = 500)]
        conversations: usize,
        /// Members of each: that many less one parents, and a tutor.
        #[arg(long, default_value_t = 4)]
        members: usize,
        /// Hours the tokens stay valid.
        #[arg(long, default_value_t = 24)]
        token_hours: i64,
        /// Where to write the accounts.
        #[arg(long, default_value = "seed.json")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Compares the ledger's movements at Stripe with Stripe's balance
    /// transactions over `[from, to)` (UTC days); prints the report as
    /// JSON and fails when anything differs.
    Reconcile {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Day after the last, YYYY-MM-DD.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
    },
}
