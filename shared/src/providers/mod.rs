//! Communication providers: the settings and credentials each kind takes, connection tests,
//! and sending one message.

mod bodies;
mod check;
pub mod send;
mod settings;

pub use check::{ConnectionCheck, HTTP_TIMEOUT, ProviderClients, check_connection};
pub use settings::{
    FieldIssue, ProviderSettings, UrlPolicy, check_base_url, validate_credentials,
    validate_settings,
};
