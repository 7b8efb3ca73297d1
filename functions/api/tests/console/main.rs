//! The console against the emulator, in-process: sessions and their cookies, CSRF, roles and
//! tenant isolation on every console route, the wizard's forms, the import preview, and the
//! DynamoDB requests of the pages that poll. (The browser tests drive the same pages in
//! Chromium: tests/browser.)

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod isolation;
mod pages;
mod sessions;
