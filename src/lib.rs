//! gws-emulator: a local, durable emulator of the Genesys Web Services (GWS) customer chat API.
//! See README.md for use and SPEC.md (in ../shared) for the contract.

pub mod api;
pub mod config;
pub mod domain;
pub mod logging;
pub mod scheduler;
pub mod sim;
pub mod startup;
pub mod store;
