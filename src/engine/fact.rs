//! What the flow stage hands to the judge: typed facts about flows, in the order they happened.
//! A worker (decode, flow table, analyzers) makes them; the judge (detection, pairing, records)
//! takes them one at a time. With one worker the hand-over is a function call; with several,
//! facts travel in batches and the judge takes them in [`Pos`] order, so a replay gives the
//! same records however its flows were spread over workers.

use crate::analyze::AppEvent;
use crate::decode::{Packet, Vlans};
use crate::detect::Transitions;
use crate::event::{
    AppProto, BjnpStats, CaptureStats, DecoderStats, DoorStats, EndReason, FlowTableStats,
};
use crate::event::{Origin, Record};
use crate::flow::{Conn, Dir};
use crate::net::{Timestamp, L4};
use std::net::IpAddr;

/// Where a fact falls in a run: the sequence number of the frame or marker (a sweep, the end)
/// that caused it; then, for flows ended together by a sweep or at the end, their last packet
/// time and flow id: the same order whichever worker held each flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub seq: u64,
    pub last: u64,
    pub id: u64,
}

impl Pos {
    pub fn at(seq: u64) -> Self {
        Pos {
            seq,
            last: 0,
            id: 0,
        }
    }

    /// After every flow a marker ended: where the marker's own work (a tick, the end) goes.
    pub fn after_flows(seq: u64) -> Self {
        Pos {
            seq,
            last: u64::MAX,
            id: u64::MAX,
        }
    }
}

/// The packet's own endpoints, for records about its content.
#[derive(Clone, Copy, Debug)]
pub struct PacketInfo {
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub l4: L4,
    pub vlan: Vlans,
}

impl PacketInfo {
    pub fn of(p: &Packet<'_>) -> Self {
        PacketInfo {
            src: p.src,
            sport: p.src_port,
            dst: p.dst,
            dport: p.dst_port,
            l4: p.l4,
            vlan: p.vlan,
        }
    }
}

/// A packet detection must see: it changed the flow's state or its analyzer reported events.
/// Borrowed from the worker: with one worker the judge reads it where it lies.
pub struct PacketView<'a> {
    /// The flow's handle, unique among live flows of the run.
    pub flow: u64,
    /// The connection as this packet left it.
    pub conn: &'a Conn,
    /// What the flow carries now (a print stream's language once known).
    pub app_proto: Option<AppProto>,
    pub dir: Dir,
    pub ts: Timestamp,
    pub origin: Origin,
    pub packet: PacketInfo,
    pub transitions: Transitions,
    /// The analyzer's events; the judge takes them all.
    pub events: &'a mut Vec<AppEvent>,
}

/// A flow ended (timeout, close, eviction, end of input).
pub struct EndView<'a> {
    pub flow: u64,
    pub conn: &'a Conn,
    pub app_proto: Option<AppProto>,
    pub reason: EndReason,
    /// When it is decided: the sweep's time, or the flow's last packet if later.
    pub ts: Timestamp,
    pub origin: Origin,
    /// What its analyzer still held (the last job of a print stream); the judge takes them.
    pub events: &'a mut Vec<AppEvent>,
}

/// Where a worker's facts go: straight to the judge (one worker), or into a batch for the
/// judge's thread (several).
pub trait FactSink {
    fn packet(&mut self, pos: Pos, f: PacketView<'_>);
    fn end(&mut self, pos: Pos, f: EndView<'_>);
    /// A record the flow stage made itself (a fragmented datagram's `anomaly`).
    fn record(&mut self, pos: Pos, r: Record);
    /// Whether `ip` is a known printer (known printers orient a new flow whose two ports are
    /// both monitored): the judge's answer, or the last one it published.
    fn is_printer(&self, ip: IpAddr) -> bool;
}

/// A [`PacketView`] that owns its data, to travel to another thread.
pub struct PacketFact {
    pub flow: u64,
    pub conn: Conn,
    pub app_proto: Option<AppProto>,
    pub dir: Dir,
    pub ts: Timestamp,
    pub origin: Origin,
    pub packet: PacketInfo,
    pub transitions: Transitions,
    pub events: Vec<AppEvent>,
}

impl PacketFact {
    pub fn of(f: PacketView<'_>) -> Self {
        PacketFact {
            flow: f.flow,
            conn: f.conn.clone(),
            app_proto: f.app_proto,
            dir: f.dir,
            ts: f.ts,
            origin: f.origin,
            packet: f.packet,
            transitions: f.transitions,
            events: std::mem::take(f.events),
        }
    }

    pub fn view(&mut self) -> PacketView<'_> {
        PacketView {
            flow: self.flow,
            conn: &self.conn,
            app_proto: self.app_proto,
            dir: self.dir,
            ts: self.ts,
            origin: self.origin.clone(),
            packet: self.packet,
            transitions: self.transitions,
            events: &mut self.events,
        }
    }
}

/// An [`EndView`] that owns its data.
pub struct EndFact {
    pub flow: u64,
    pub conn: Conn,
    pub app_proto: Option<AppProto>,
    pub reason: EndReason,
    pub ts: Timestamp,
    pub origin: Origin,
    pub events: Vec<AppEvent>,
}

impl EndFact {
    pub fn of(f: EndView<'_>) -> Self {
        EndFact {
            flow: f.flow,
            conn: f.conn.clone(),
            app_proto: f.app_proto,
            reason: f.reason,
            ts: f.ts,
            origin: f.origin,
            events: std::mem::take(f.events),
        }
    }

    pub fn view(&mut self) -> EndView<'_> {
        EndView {
            flow: self.flow,
            conn: &self.conn,
            app_proto: self.app_proto,
            reason: self.reason,
            ts: self.ts,
            origin: self.origin.clone(),
            events: &mut self.events,
        }
    }
}

/// A worker's counters: summed over workers for the `stats` record.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerStats {
    pub capture: CaptureStats,
    pub decoder: DecoderStats,
    pub fragment_trains: u64,
    pub fragment_trains_evicted: u64,
    pub flow: FlowTableStats,
    pub bjnp: BjnpStats,
    pub doors: DoorStats,
    /// Frame times seen: the first and the newest.
    pub first_ts: Option<Timestamp>,
    pub last_ts: Timestamp,
}

impl WorkerStats {
    pub fn add(&mut self, o: &WorkerStats) {
        let c = &mut self.capture;
        c.packets += o.capture.packets;
        c.bytes += o.capture.bytes;
        c.filtered += o.capture.filtered;
        // counters declared once (event/stats.rs) merge field by field, so none is forgotten;
        // what the judge or the table reports itself (pairing, fragment trains) is 0 here
        self.decoder.add(&o.decoder);
        self.fragment_trains += o.fragment_trains;
        self.fragment_trains_evicted += o.fragment_trains_evicted;
        self.flow.add(&o.flow);
        self.bjnp.add(&o.bjnp);
        self.doors.add(&o.doors);
        self.first_ts = match (self.first_ts, o.first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ts = self.last_ts.max(o.last_ts);
    }
}

/// A fact that owns its data, as facts travel between threads.
pub enum Fact {
    Packet(Box<PacketFact>),
    End(Box<EndFact>),
    Record(Box<Record>),
    /// Time moved on: requests nobody answered expire, windows close (reports carry `Origin`).
    Tick(Timestamp, Origin),
    /// The end of input (or of capture): what detection still holds is reported.
    Finish(Timestamp, Origin),
    /// A reloaded policy takes over here, between the facts before and after it.
    Reload(Box<crate::config::Policy>, Timestamp, Origin),
}

/// Facts in order, as a batch for the judge's thread, and the printers it last published.
pub struct Batch<'a> {
    pub facts: &'a mut Vec<(Pos, Fact)>,
    pub printers: &'a dyn Fn(IpAddr) -> bool,
}

impl FactSink for Batch<'_> {
    fn is_printer(&self, ip: IpAddr) -> bool {
        (self.printers)(ip)
    }
    fn packet(&mut self, pos: Pos, f: PacketView<'_>) {
        self.facts
            .push((pos, Fact::Packet(Box::new(PacketFact::of(f)))));
    }
    fn end(&mut self, pos: Pos, f: EndView<'_>) {
        self.facts.push((pos, Fact::End(Box::new(EndFact::of(f)))));
    }
    fn record(&mut self, pos: Pos, r: Record) {
        self.facts.push((pos, Fact::Record(Box::new(r))));
    }
}
