//! Every integration test in one binary (one link, one process, tests two at a time): `helpers`
//! is the harness (the real emulator on a free port, a raw HTTP/1.1 client, the guard that lets
//! heavy tests run alone), `webdriver` a small browser client, `sse` an event-stream client,
//! and each other module one
//! capability of the emulator. `cargo test --test api MODULE` runs one of them.

mod helpers;
mod sse;
mod webdriver;

mod browser;
mod clock;
mod configuration;
mod contact_centre;
mod crash_safety;
mod cursors;
mod durability;
mod examples;
mod faults_journal;
mod hostile_input;
mod http_surface;
mod load;
mod long_lived;
mod openapi;
mod quick_tour;
mod scenarios;
mod schemathesis;
mod watching;
