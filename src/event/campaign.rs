//! Storms as records: a campaign (many sources failing to reach one printer port across the
//! network) reported once a window and when it ends, and the window's summary of what alert
//! budgets held back.

use crate::net::{named_enum, Timestamp, L4};
use serde::Serialize;
use std::net::IpAddr;

named_enum! {
    /// Which record of a campaign this is; its start is the 1006 alert.
    pub enum CampaignPhase {
        /// Once a window while it lasts: totals so far.
        Update = "update",
        /// A window passed without an attempt, or the input ended: the totals.
        End = "end",
    }
}

/// Failed attempts on one printer port (protocol and port) from many sources, aggregated in
/// fixed memory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Campaign {
    /// Stable for the campaign's life; the 1006 alert names it too.
    pub id: u64,
    pub phase: CampaignPhase,
    pub proto: L4,
    pub port: u16,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Failed attempts (no answer, refused, or a SYN-ACK never completed) counted into the
    /// campaign.
    pub attempts: u64,
    /// Of those, in the window this record closes.
    pub window_attempts: u64,
    pub outcomes: CampaignOutcomes,
    /// `flow` records not written one by one: counted here instead.
    pub flows_folded: u64,
    /// `bjnp` records of recon requests (get-identity, discover) not written one by one.
    pub messages_folded: u64,
    pub sources: Estimate,
    pub targets: Estimate,
    /// The sources with the most attempts (at most 16).
    pub top_sources: Vec<TopAddress>,
    /// The target networks with the most attempts.
    pub top_targets: TopNetworks,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CampaignOutcomes {
    pub attempted: u64,
    pub refused: u64,
    /// SYNs the printer answered that were never completed (a spoofed flood against a live
    /// port, a SYN scan): folded like the other failed attempts, but they say the port is
    /// reachable from the sources' side.
    pub half_open: u64,
    /// Connections to the port that were answered during the campaign: never folded, each
    /// with its own alert and flow record; counted here for scale.
    pub established: u64,
}

/// A distinct count from a cardinality sketch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub estimate: u64,
    /// The sketch's relative standard error (0.0081 = 0.81 %); 0 when the count is exact.
    pub error: f64,
}

/// One of the most frequent addresses, from a heavy-hitter sketch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TopAddress {
    pub ip: IpAddr,
    /// Attempts (in a campaign) or alerts (in a summary).
    pub count: u64,
    /// The count may be overstated by at most this much (0: exact).
    pub error: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopNetwork {
    pub network: String,
    pub count: u64,
    pub error: u64,
}

/// The target networks with the most attempts, at two prefix lengths per family.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TopNetworks {
    #[serde(rename = "ipv4_24", skip_serializing_if = "Vec::is_empty")]
    pub v4_24: Vec<TopNetwork>,
    #[serde(rename = "ipv4_16", skip_serializing_if = "Vec::is_empty")]
    pub v4_16: Vec<TopNetwork>,
    #[serde(rename = "ipv6_64", skip_serializing_if = "Vec::is_empty")]
    pub v6_64: Vec<TopNetwork>,
    #[serde(rename = "ipv6_48", skip_serializing_if = "Vec::is_empty")]
    pub v6_48: Vec<TopNetwork>,
}

/// What alert budgets held back in one window: per rule, how many alerts were not written and
/// who caused most of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    pub over_budget: Vec<RuleOverBudget>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleOverBudget {
    pub signature_id: u32,
    pub signature: &'static str,
    /// The budget: alerts of this rule written per window.
    pub budget: u32,
    /// Alerts not written because the budget was spent.
    pub alerts: u64,
    pub top_sources: Vec<TopAddress>,
}
