//! The printer inventory as a report: every printer seen, with its identity and the clients
//! that used it, and the policy's printers never seen. Built by detection, rendered by output.

use crate::net::Timestamp;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InventoryReport {
    /// In address order.
    pub printers: Vec<InventoryEntry>,
    /// Printers of the policy that never answered: (address, name).
    pub unseen: Vec<(IpAddr, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InventoryEntry {
    pub ip: IpAddr,
    /// The inventory name, when the policy lists this address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub in_inventory: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    pub services: Vec<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub clients: Vec<InventoryClient>,
    /// More distinct clients were seen than are listed.
    pub clients_more: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InventoryClient {
    pub ip: IpAddr,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}
