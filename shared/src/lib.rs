//! Herald's shared library: validated domain values, the layered configuration and its
//! resolver, template syntax checking and rendering, KMS-sealed secrets, provider connection tests, and the
//! single-table DynamoDB store.

pub mod analytics;
pub mod aws;
pub mod batch;
pub mod campaigns;
pub mod config;
pub mod consent;
pub mod conversations;
pub mod crm;
pub mod digest;
pub mod domain;
pub mod guests;
pub mod ids;
pub mod inbound;
pub mod journeys;
pub mod messages;
pub mod pages;
pub mod providers;
pub mod render;
pub mod resolve;
pub mod rsvp;
pub mod schedules;
pub mod secrets;
pub mod senders;
pub mod store;
pub mod suppression;
pub mod telemetry;
pub mod template_syntax;
pub mod tracking;
pub mod webhooks;
pub mod wizard;
