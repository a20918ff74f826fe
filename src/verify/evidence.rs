//! What a verification reads: the sensor's own records, reduced to the few facts a verdict
//! needs. They come typed from a replay or live run (a [`Collector`] is the record sink), or
//! from EVE JSON lines a running sensor wrote ([`Collector::eve_line`]); both give the same
//! observations, so asking afterwards proves the same as watching.

use crate::event::{Body, CampaignPhase, ConnState, Direction, EventType, Outcome, Record};
use crate::net::{Service, Timestamp, Unreach, L4};
use crate::output::RecordSink;
use crate::proto::bjnp::CommandName;
use serde_json::Value;
use std::collections::HashSet;
use std::net::IpAddr;

/// One client's connection to a server port, as its `flow` record ended it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub start: Timestamp,
    pub client: IpAddr,
    pub server: IpAddr,
    pub port: u16,
    pub proto: L4,
    pub outcome: Outcome,
    pub conn_state: ConnState,
    pub unreachable: Option<Unreach>,
}

/// A print job that went through: a raw-printing `print` record, or a BJNP session that sent
/// print data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    pub ts: Timestamp,
    pub client: IpAddr,
    pub server: IpAddr,
    pub port: u16,
    pub proto: L4,
}

/// Attempts a campaign counted without a `flow` record each (a sensor that does not log folded
/// flows): known only per protocol and port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    pub proto: Option<L4>,
    pub port: u16,
    pub attempts: u64,
}

/// Why an EVE line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EveError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not an EVE record (no event_type); --records reads bjnp-watch's EVE JSON (--format eve, the default)")]
    NotEve,
    #[error("{0} record without {1}")]
    Missing(&'static str, &'static str),
}

/// The observations of one input, in arrival order.
#[derive(Default)]
pub struct Collector {
    pub attempts: Vec<Attempt>,
    pub jobs: Vec<Job>,
    pub folded: Vec<Folded>,
    /// Packets the capture read (from `stats` records); 0 when no stats record came.
    pub packets: u64,
    /// First and last record time.
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// BJNP flows already counted as a print session (its print_data messages and the `print`
    /// record of its data are one job).
    bjnp_sessions: HashSet<u64>,
}

impl Collector {
    fn saw(&mut self, ts: Timestamp) {
        self.first = Some(self.first.map_or(ts, |f| f.min(ts)));
        self.last = Some(self.last.map_or(ts, |l| l.max(ts)));
    }

    /// A `print` record. On a BJNP port it describes the print data of a session that is
    /// counted once per flow; on a raw-printing port every record is a job.
    fn print_job(&mut self, flow_id: Option<u64>, job: Job) {
        if matches!(
            Service::of(job.proto, job.port),
            Service::Bjnp | Service::Mfnp
        ) {
            self.bjnp_session(flow_id, job);
        } else {
            self.jobs.push(job);
        }
    }

    fn bjnp_session(&mut self, flow_id: Option<u64>, job: Job) {
        // One session per flow, however many print_data messages it carried.
        if flow_id.is_none_or(|id| self.bjnp_sessions.insert(id)) {
            self.jobs.push(job);
        }
    }

    /// One record of a replay or live run.
    pub fn record(&mut self, r: &Record) {
        self.saw(r.timestamp);
        let ends = r.endpoints.as_ref();
        match &r.body {
            Body::Flow(f) => {
                let (Some(e), Some(outcome)) = (ends, f.flow.outcome) else {
                    // A flow to a broadcast address has no outcome: its answers are flows too.
                    return;
                };
                self.attempts.push(Attempt {
                    start: f.flow.start,
                    client: e.src_ip,
                    server: e.dest_ip,
                    port: e.dest_port,
                    proto: e.proto,
                    outcome,
                    conn_state: f.conn_state,
                    unreachable: f.flow.unreachable,
                });
            }
            Body::Print(_) => {
                if let Some(e) = ends {
                    let job = Job {
                        ts: r.timestamp,
                        client: e.src_ip,
                        server: e.dest_ip,
                        port: e.dest_port,
                        proto: e.proto,
                    };
                    self.print_job(r.flow_id, job);
                }
            }
            Body::Bjnp(b) => {
                if let Some(e) = ends {
                    if e.proto == L4::Tcp
                        && b.direction == Direction::Request
                        && b.command_name == CommandName::PrintData
                    {
                        let job = Job {
                            ts: r.timestamp,
                            client: e.src_ip,
                            server: e.dest_ip,
                            port: e.dest_port,
                            proto: e.proto,
                        };
                        self.bjnp_session(r.flow_id, job);
                    }
                }
            }
            Body::Campaign(c) if c.phase == CampaignPhase::End => self.folded.push(Folded {
                proto: Some(c.proto),
                port: c.port,
                attempts: c.flows_folded,
            }),
            Body::Stats(s) => self.packets = self.packets.max(s.capture.packets),
            _ => {}
        }
    }

    /// One line of EVE JSON (blank lines are skipped).
    pub fn eve_line(&mut self, line: &str) -> Result<(), EveError> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let v: Value = serde_json::from_str(line)?;
        let kind = v["event_type"].as_str().ok_or(EveError::NotEve)?;
        // a type this version does not write is skipped, like one it does not read
        let kind = EventType::from_name(kind);
        let ts = v["timestamp"].as_str().and_then(parse_time);
        if let Some(ts) = ts {
            self.saw(ts);
        }
        let ip = |k: &str| v[k].as_str().and_then(|s| s.parse::<IpAddr>().ok());
        let port = |k: &str| v[k].as_u64().and_then(|p| u16::try_from(p).ok());
        let proto = v["proto"].as_str().and_then(L4::from_name);
        let ends = || -> Option<(IpAddr, IpAddr, u16, L4)> {
            Some((ip("src_ip")?, ip("dest_ip")?, port("dest_port")?, proto?))
        };
        match kind {
            Some(EventType::Flow) => {
                let f = &v["flow"];
                let Some(outcome) = f["outcome"].as_str().and_then(Outcome::from_name) else {
                    return Ok(());
                };
                let (client, server, port, proto) =
                    ends().ok_or(EveError::Missing("flow", "endpoints"))?;
                let start = f["start"]
                    .as_str()
                    .and_then(parse_time)
                    .ok_or(EveError::Missing("flow", "flow.start"))?;
                self.attempts.push(Attempt {
                    start,
                    client,
                    server,
                    port,
                    proto,
                    outcome,
                    conn_state: v["conn_state"]
                        .as_str()
                        .and_then(ConnState::from_name)
                        .ok_or(EveError::Missing("flow", "conn_state"))?,
                    unreachable: f["unreachable"].as_str().and_then(Unreach::from_name),
                });
            }
            Some(EventType::Print) => {
                let (client, server, port, proto) =
                    ends().ok_or(EveError::Missing("print", "endpoints"))?;
                let ts = ts.ok_or(EveError::Missing("print", "timestamp"))?;
                let job = Job {
                    ts,
                    client,
                    server,
                    port,
                    proto,
                };
                self.print_job(v["flow_id"].as_u64(), job);
            }
            Some(EventType::Bjnp) => {
                let b = &v["bjnp"];
                let command = b["command_name"].as_str().and_then(CommandName::from_name);
                let direction = b["direction"].as_str().and_then(Direction::from_name);
                let data = command == Some(CommandName::PrintData)
                    && direction == Some(Direction::Request);
                if let (true, Some((client, server, port, L4::Tcp)), Some(ts)) = (data, ends(), ts)
                {
                    let job = Job {
                        ts,
                        client,
                        server,
                        port,
                        proto: L4::Tcp,
                    };
                    self.bjnp_session(v["flow_id"].as_u64(), job);
                }
            }
            Some(EventType::Campaign) => {
                let c = &v["campaign"];
                let phase = c["phase"].as_str().and_then(CampaignPhase::from_name);
                if phase == Some(CampaignPhase::End) {
                    self.folded.push(Folded {
                        proto: c["proto"].as_str().and_then(L4::from_name),
                        port: c["port"]
                            .as_u64()
                            .and_then(|p| u16::try_from(p).ok())
                            .unwrap_or(0),
                        attempts: c["flows_folded"].as_u64().unwrap_or(0),
                    });
                }
            }
            Some(EventType::Stats) => {
                let n = v["stats"]["capture"]["packets"].as_u64().unwrap_or(0);
                self.packets = self.packets.max(n);
            }
            _ => {}
        }
        Ok(())
    }
}

impl RecordSink for Collector {
    fn emit(&mut self, r: Record) {
        self.record(&r);
    }
}

/// An RFC 3339 time (records' `timestamp`, `--change-at`), or seconds since the epoch.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Timestamp((secs * 1e9) as u64));
        }
    }
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(Timestamp::from_parts(
        d.as_secs(),
        u64::from(d.subsec_nanos()),
    ))
}
