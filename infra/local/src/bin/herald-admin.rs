//! `herald-admin`: one-off operations on a deployed stack, with the caller's AWS credentials.
//!
//!     herald-admin create-platform-key --table <TableName output> [--name "first admin"]
//!
//! prints a new platform_admin API key. It is the only way to get the first key of a new
//! stack: nothing secret is baked into the template.

use anyhow::{Context as _, bail};
use herald::store::Store;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    match args.first().map(String::as_str) {
        Some("create-platform-key") => {
            let table = flag("--table")
                .context("--table <name> is required (the stack's TableName output)")?;
            let name = flag("--name").unwrap_or_else(|| "platform admin".to_owned());
            let sdk = herald::aws::sdk_config().await?;
            let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), table);
            let (key, secret) = herald_local::bootstrap::create_platform_key(&store, &name).await?;
            eprintln!(
                "Created platform_admin key {} ({name}). Store the secret now; it is not shown again:",
                key.id
            );
            println!("{secret}");
            Ok(())
        }
        _ => bail!("usage: herald-admin create-platform-key --table <TableName> [--name <label>]"),
    }
}
