//! gws-emulator: a local, durable emulator of the Genesys Web Services (GWS) customer chat API.
//! See README.md for use and docs/api.md for the contract.

pub mod api;
pub mod clock;
pub mod config;
pub mod contact_centre;
pub mod domain;
pub mod events;
pub mod faults;
pub mod journal;
pub mod logging;
pub mod scheduler;
pub mod startup;
pub mod store;
