//! `provis work` (placeholder until the queue lands).

use crate::config::Config;

use super::WorkArgs;

/// Runs a worker until stopped.
pub async fn run(_cfg: Config, _args: WorkArgs) -> anyhow::Result<()> {
    anyhow::bail!("the worker is not wired yet")
}
