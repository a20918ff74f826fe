//! Application-layer analysis per flow: which analyzer a flow gets, and its state.

pub mod bjnp;
pub mod raw;

use crate::decode::{ports, L4};
use crate::event::Body;

/// What an analyzer produces: a record to write, or a finding for the detector to judge.
#[derive(Debug)]
pub enum AppOut {
    Record(Body),
    Finding(raw::Finding),
}

/// The analyzer state a flow carries, chosen once from its server port.
pub enum FlowApp {
    /// A monitored port with no decoder of its own.
    None,
    Bjnp(Box<bjnp::BjnpFlow>),
    /// Raw printing (AppSocket/JetDirect, TCP 9100-9102) before any payload: only the ISNs
    /// (client, server), so a SYN flood allocates nothing per flow.
    RawIdle([Option<u32>; 2]),
    /// Raw printing once data flows.
    Raw(Box<raw::RawFlow>),
}

impl FlowApp {
    pub fn for_port(l4: L4, server_port: u16) -> Self {
        if ports::is_bjnp_port(server_port) {
            FlowApp::Bjnp(Box::default())
        } else if l4 == L4::Tcp && ports::is_raw_port(server_port) {
            FlowApp::RawIdle([None; 2])
        } else {
            FlowApp::None
        }
    }
}
