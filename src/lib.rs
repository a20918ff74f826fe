//! bjnp-watch: a passive monitor for every door of a printer: Canon BJNP/MFNP (UDP/TCP
//! 8610-8614), raw printing (TCP 9100-9102), LPD (TCP 515), IPP (TCP 631) and CUPS browsing
//! (UDP 631).
//!
//! The data path, one module per stage (docs/ARCHITECTURE.md):
//! `capture` → `decode` → `defrag` → `flow` → `analyze` (over `proto` decoders) → `detect` →
//! `output`, driven by [`engine::Engine`], which tests and benches use directly; `metrics`
//! serves the `stats` records to Prometheus; `run` holds the loops, signals and reloads.

pub mod analyze;
pub mod bounded;
pub mod capture;
pub mod cli;
pub mod config;
pub mod decode;
pub mod defrag;
pub mod detect;
pub mod engine;
pub mod event;
pub mod flow;
pub mod health;
pub mod metrics;
pub mod net;
pub mod output;
pub mod privileges;
pub mod proto;
pub mod report;
pub mod run;
pub mod verify;
