//! `bjnp-watch verify`: the advisory's verification step as a report. After ports are blocked
//! or restricted, the traffic (or the sensor's own records) shows per printer port whether
//! clients the policy does not allow still get through, whether the allowed ones still
//! print, and, around a change, that the change did what it should and nothing else.
//!
//! Evidence comes from records only ([`evidence`]); [`verdict`] decides; [`render`] writes
//! the table, JSON, Markdown or HTML. Running the engine over captures or an interface is the
//! run stage's job.

pub mod evidence;
pub mod render;
pub mod verdict;

pub use evidence::{parse_time, Collector};
pub use verdict::{judge, split, Inputs, Overall, Reachability, Report, ServiceVerdict};
