//! Protocol decoders: pure functions and small state machines over `&[u8]`. They know nothing
//! about flows, policy or output.

pub mod bjl;
pub mod bjnp;
pub mod cups_browse;
pub mod http;
pub mod ipp;
pub mod lpd;
pub mod pcl;
pub mod pdl;
pub mod pjl;
pub mod postscript;
pub mod risk;
pub mod tls;
