//! bjnp-watch: a passive monitor for Canon BJNP/MFNP (UDP/TCP 8610-8614) and raw printing
//! (TCP 9100-9102).
//!
//! The data path, one module per stage (docs/ARCHITECTURE.md):
//! `capture` → `decode` → `flow` → `analyze` (over `proto` decoders) → `output`,
//! driven by [`engine::Engine`], which tests and benches use directly.

pub mod analyze;
pub mod bounded;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod defrag;
pub mod detect;
pub mod engine;
pub mod event;
pub mod flow;
pub mod health;
pub mod net;
pub mod output;
pub mod privileges;
pub mod proto;
pub mod report;
pub mod run;
pub mod verify;
