//! Flows: a bounded table of connections keyed by a direction-normalised 5-tuple plus VLANs.
//! Each flow carries its counters and the per-flow state of the analyzers (`analyze/`).

pub mod conn_state;
mod key;
pub mod stream;
mod table;

pub use conn_state::TcpTrack;
pub use key::FlowKey;
pub use table::{EndReason, Flow, FlowConfig, FlowTable, FlowTableStats};

/// Which way a packet travels within its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ToServer = 0,
    ToClient = 1,
}

impl Dir {
    pub fn index(self) -> usize {
        self as usize
    }
}
