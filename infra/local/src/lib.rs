//! Herald's local stack: the same system as the deployed one, on one machine, with moto for AWS.

pub mod bootstrap;
pub mod contracts;
pub mod fakes;
pub mod fault_proxy;
pub mod inbound_sim;
pub mod moto;
pub mod outbox;
pub mod pollers;
pub mod provision;
pub mod schedules;
pub mod ses_events;
pub mod stack;
pub mod template;
pub mod testing;
