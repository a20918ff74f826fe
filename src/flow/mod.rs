//! Flows: a generic connection core. A bounded table of connections keyed by a
//! direction-normalised 5-tuple plus VLANs, Zeek's conn_state and history, and in-order TCP
//! stream delivery. It knows no application protocol: each flow carries an opaque `T` that the
//! engine fills with its analyzer and detection state, and the engine tells the table which side
//! is the client when a flow is created.

pub mod conn_state;
mod key;
pub mod stream;
mod table;

pub use conn_state::TcpTrack;
pub use key::{address_number, FlowKey};
pub use table::{Conn, Flow, FlowConfig, FlowTable};

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
