//! Hello world on the Lambda runtime: the baseline of `make bench`'s cold starts, built the same
//! way (release profile, cargo-lambda) as Herald's functions in the same run.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"hello": "world"}))
    }))
    .await
}
