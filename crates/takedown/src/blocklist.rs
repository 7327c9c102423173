//! `takedown blocklist` (being written).

/// `takedown blocklist`.
#[derive(clap::Args, Debug)]
pub struct BlocklistArgs {}

/// Runs `takedown blocklist`.
pub fn run(_a: BlocklistArgs) -> anyhow::Result<u8> {
    anyhow::bail!("takedown blocklist is being written")
}
