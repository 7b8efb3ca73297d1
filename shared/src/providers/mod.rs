//! Communication providers: the settings and credentials each kind takes, and connection tests.

mod check;
mod settings;

pub use check::{ConnectionCheck, HTTP_TIMEOUT, ProviderClients, check_connection};
pub use settings::{
    FieldIssue, ProviderSettings, UrlPolicy, validate_credentials, validate_settings,
};
