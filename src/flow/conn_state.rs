//! Connection state as Zeek reports it (`conn.log`'s `conn_state` and `history`), so analysts
//! read bjnp-watch's flows with the vocabulary they already know.
//!
//! The state is derived from which flags each side has sent, never stored: one place decides
//! what S0 or RSTO means, and a flow can be asked at any moment (an alert at handshake time
//! carries `S1`, the flow record at the end `SF`).

use crate::decode::Tcp;
use crate::event::{ConnState, History};
use crate::net::{Unreach, L4};

/// What one side has sent so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Side {
    pub syn: bool,
    pub synack: bool,
    /// An ACK without SYN (bare or with data): from an originator after its SYN, proof that it
    /// saw the SYN-ACK even if the capture did not.
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub data: bool,
    pub any: bool,
}

/// Both sides plus the history string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpTrack {
    pub orig: Side,
    pub resp: Side,
    /// An ICMP destination unreachable answered the originator (a firewall's REJECT, a closed
    /// UDP port). Zeek's conn_state does not see it (S0 stays S0); the outcome does.
    pub unreachable: Option<Unreach>,
    history: History,
}

impl TcpTrack {
    /// Records one packet; `from_orig` is true for the originator (client) side.
    pub fn update(&mut self, l4: L4, tcp: Tcp, has_payload: bool, from_orig: bool) {
        let side = if from_orig {
            &mut self.orig
        } else {
            &mut self.resp
        };
        side.any = true;
        side.data |= has_payload;
        if l4 == L4::Udp {
            if has_payload {
                self.history.push(b'D', from_orig);
            }
            return;
        }
        let (syn, ack, fin, rst) = (
            tcp.has(Tcp::SYN),
            tcp.has(Tcp::ACK),
            tcp.has(Tcp::FIN),
            tcp.has(Tcp::RST),
        );
        if ack && !syn {
            side.ack = true;
        }
        if syn && ack {
            side.synack = true;
            self.history.push(b'H', from_orig);
        } else if syn {
            side.syn = true;
            self.history.push(b'S', from_orig);
        }
        if fin {
            side.fin = true;
            self.history.push(b'F', from_orig);
        }
        if rst {
            side.rst = true;
            self.history.push(b'R', from_orig);
        }
        if has_payload {
            self.history.push(b'D', from_orig);
        } else if ack && !syn && !fin && !rst {
            self.history.push(b'A', from_orig);
        }
    }

    /// The handshake completed (or, for a flow picked up mid-way, both sides are talking).
    pub fn established(&self) -> bool {
        (self.orig.syn && self.resp.synack) || (!self.orig.syn && self.orig.any && self.resp.any)
    }

    /// The three-way handshake completed: the originator acknowledged (or sent data) after the
    /// responder's SYN-ACK. A spoofed source never gets this far.
    pub fn handshake_completed(&self) -> bool {
        self.orig.syn && self.resp.synack && (self.orig.ack || self.orig.data)
    }

    /// The originator acknowledged after its SYN although no SYN-ACK was captured: the
    /// handshake completed out of sight (an asymmetric route, a one-sided tap).
    pub fn established_one_sided(&self) -> bool {
        self.orig.syn && self.orig.ack && !self.resp.synack && !self.resp.rst
    }

    /// Over: both FINs, or a RST, or an attempt that was refused.
    pub fn closed(&self) -> bool {
        self.orig.rst || self.resp.rst || (self.orig.fin && self.resp.fin) || self.refused_by_icmp()
    }

    /// An ICMP unreachable came back and the responder never answered itself.
    pub fn refused_by_icmp(&self) -> bool {
        self.unreachable.is_some() && !self.resp.any
    }

    pub fn history(&self) -> History {
        self.history
    }

    /// Zeek's `conn_state` for TCP.
    pub fn conn_state(&self) -> ConnState {
        let (o, r) = (&self.orig, &self.resp);
        if !o.syn {
            // No SYN from the originator: either the responder's half of a handshake we did not
            // see the start of, or mid-stream traffic (SF if both sides closed it).
            return match (r.synack, r.rst, r.fin) {
                (true, true, _) => ConnState::Rstrh,
                (true, false, true) => ConnState::Shr,
                _ if o.fin && r.fin && !o.rst && !r.rst => ConnState::Sf,
                _ => ConnState::Oth,
            };
        }
        if !r.synack {
            return if r.rst {
                ConnState::Rej
            } else if o.rst {
                ConnState::Rstos0
            } else if o.fin {
                ConnState::Sh
            } else {
                ConnState::S0
            };
        }
        // As Zeek: a responder reset is reported before an originator's.
        match (o.rst, r.rst, o.fin, r.fin) {
            (_, true, _, _) => ConnState::Rstr,
            (true, _, _, _) => ConnState::Rsto,
            (_, _, true, true) => ConnState::Sf,
            (_, _, true, false) => ConnState::S2,
            (_, _, false, true) => ConnState::S3,
            _ => ConnState::S1,
        }
    }

    /// Zeek's UDP states: S0 when only the originator spoke, SF when both did, SHR when only
    /// the responder did.
    pub fn udp_state(&self) -> ConnState {
        match (self.orig.any, self.resp.any) {
            (true, true) => ConnState::Sf,
            (true, false) => ConnState::S0,
            (false, true) => ConnState::Shr,
            (false, false) => ConnState::Oth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u8 = Tcp::SYN;
    const A: u8 = Tcp::ACK;
    const F: u8 = Tcp::FIN;
    const R: u8 = Tcp::RST;

    /// (from originator?, flags, payload?)
    fn run(pkts: &[(bool, u8, bool)]) -> TcpTrack {
        let mut t = TcpTrack::default();
        for &(o, flags, data) in pkts {
            t.update(
                L4::Tcp,
                Tcp {
                    seq: 0,
                    ack: 0,
                    flags,
                },
                data,
                o,
            );
        }
        t
    }

    #[test]
    fn every_zeek_state() {
        let hs = [(true, S, false), (false, S | A, false), (true, A, false)];
        let with = |rest: &[(bool, u8, bool)]| {
            let mut v = hs.to_vec();
            v.extend_from_slice(rest);
            run(&v)
        };
        assert_eq!(run(&[(true, S, false)]).conn_state().name(), "S0");
        assert_eq!(with(&[(true, A, true)]).conn_state().name(), "S1");
        let sf = with(&[
            (true, A, true),
            (false, A, true),
            (true, F | A, false),
            (false, F | A, false),
            (true, A, false),
        ]);
        assert_eq!(sf.conn_state().name(), "SF");
        assert_eq!(sf.history(), "ShADdFf");
        let rej = run(&[(true, S, false), (false, R | A, false)]);
        assert_eq!(rej.conn_state().name(), "REJ");
        assert_eq!(rej.history(), "Sr");
        assert_eq!(with(&[(true, F | A, false)]).conn_state().name(), "S2");
        assert_eq!(with(&[(false, F | A, false)]).conn_state().name(), "S3");
        assert_eq!(with(&[(true, R, false)]).conn_state().name(), "RSTO");
        assert_eq!(with(&[(false, R, false)]).conn_state().name(), "RSTR");
        assert_eq!(
            run(&[(true, S, false), (true, R, false)])
                .conn_state()
                .name(),
            "RSTOS0"
        );
        assert_eq!(
            run(&[(false, S | A, false), (false, R, false)])
                .conn_state()
                .name(),
            "RSTRH"
        );
        assert_eq!(
            run(&[(true, S, false), (true, F, false)])
                .conn_state()
                .name(),
            "SH"
        );
        assert_eq!(
            run(&[(false, S | A, false), (false, F, false)])
                .conn_state()
                .name(),
            "SHR"
        );
        let oth = run(&[(true, A, true), (false, A, true)]);
        assert_eq!(oth.conn_state().name(), "OTH");
        assert!(
            oth.established(),
            "mid-stream traffic both ways counts as established"
        );
    }

    #[test]
    fn established_and_closed() {
        let t = run(&[(true, S, false)]);
        assert!(!t.established() && !t.closed());
        let t = run(&[(true, S, false), (false, S | A, false)]);
        assert!(t.established() && !t.closed());
        assert!(!t.handshake_completed(), "a SYN-ACK alone: half open");
        let t = run(&[(true, S, false), (false, S | A, false), (true, A, false)]);
        assert!(t.handshake_completed());
        assert!(run(&[(true, S, false), (false, R | A, false)]).closed());
    }

    #[test]
    fn udp_states_and_history() {
        let mut t = TcpTrack::default();
        t.update(L4::Udp, Tcp::default(), true, true);
        assert_eq!(t.udp_state().name(), "S0");
        t.update(L4::Udp, Tcp::default(), true, false);
        t.update(L4::Udp, Tcp::default(), true, true);
        assert_eq!(t.udp_state().name(), "SF");
        assert_eq!(t.history(), "Dd");
        let mut r = TcpTrack::default();
        r.update(L4::Udp, Tcp::default(), true, false);
        assert_eq!(r.udp_state().name(), "SHR");
    }
}
