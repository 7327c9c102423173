//! `takedown dga` (being written).

/// `takedown dga`.
#[derive(clap::Args, Debug)]
pub struct DgaArgs {
    #[command(subcommand)]
    command: DgaCommand,
}

#[derive(clap::Subcommand, Debug)]
enum DgaCommand {
    /// List the families.
    List,
}

/// Runs `takedown dga`.
pub fn run(a: DgaArgs) -> anyhow::Result<u8> {
    match a.command {
        DgaCommand::List => anyhow::bail!("takedown dga is being written"),
    }
}
