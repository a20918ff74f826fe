//! Application-layer analysis per flow: which analyzer a flow gets, and its state.

pub mod bjnp;

use crate::decode::{ports, L4};

/// The analyzer state a flow carries, chosen once from its server port.
pub enum FlowApp {
    /// A monitored port with no decoder of its own yet (raw printing arrives with print-stream
    /// analysis).
    None,
    Bjnp(Box<bjnp::BjnpFlow>),
}

impl FlowApp {
    pub fn for_port(_l4: L4, server_port: u16) -> Self {
        if ports::is_bjnp_port(server_port) {
            FlowApp::Bjnp(Box::default())
        } else {
            FlowApp::None
        }
    }
}
