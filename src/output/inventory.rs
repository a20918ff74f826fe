//! The `inventory` subcommand's report: a table for people, JSON for scripts.

use crate::detect::inventory::{Inventory, PrinterState};
use crate::detect::policy::Policy;
use crate::event::Timestamp;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Serialize)]
struct Entry<'a> {
    ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    in_inventory: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mfg: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    firmware: Option<&'a str>,
    services: Vec<String>,
    first_seen: Timestamp,
    last_seen: Timestamp,
    clients: Vec<Client>,
    /// More distinct clients were seen than are listed.
    clients_more: bool,
}

#[derive(Serialize)]
struct Client {
    ip: IpAddr,
    first_seen: Timestamp,
    last_seen: Timestamp,
}

fn entry<'a>(ip: IpAddr, p: &'a PrinterState, policy: &'a Policy) -> Entry<'a> {
    Entry {
        ip,
        name: policy.printer(ip).map(|x| x.name.as_str()),
        in_inventory: policy.printer(ip).is_some(),
        mac: p.mac.as_deref(),
        mfg: p.mfg.as_deref(),
        model: p.model.as_deref(),
        firmware: p.firmware.as_deref(),
        services: p.service_labels(),
        first_seen: p.first_seen,
        last_seen: p.last_seen,
        clients: p
            .clients
            .iter()
            .map(|&(ip, first_seen, last_seen)| Client {
                ip,
                first_seen,
                last_seen,
            })
            .collect(),
        clients_more: p.clients_more,
    }
}

/// The printers in address order, then the policy's printers that were never seen.
pub fn render(inv: &Inventory, policy: &Policy, json: bool) -> String {
    let entries: Vec<Entry<'_>> = inv
        .all()
        .into_iter()
        .map(|(ip, p)| entry(ip, p, policy))
        .collect();
    let unseen: Vec<String> = policy
        .printers
        .iter()
        .filter(|p| !entries.iter().any(|e| e.ip == p.address))
        .map(|p| format!("{} ({})", p.address, p.name))
        .collect();
    if json {
        let mut s = serde_json::to_string_pretty(&entries).unwrap_or_else(|_| "[]".into());
        s.push('\n');
        return s;
    }
    let dash = |v: Option<&str>| v.map_or_else(|| "-".to_owned(), sanitize);
    let mut rows = vec![[
        "ADDRESS",
        "NAME",
        "MAC",
        "MAKE",
        "MODEL",
        "FIRMWARE",
        "SERVICES",
        "FIRST SEEN",
        "LAST SEEN",
        "CLIENTS",
    ]
    .map(String::from)];
    for e in &entries {
        let clients: Vec<String> = e.clients.iter().map(|c| c.ip.to_string()).collect();
        let count = format!("{}{}", clients.len(), if e.clients_more { "+" } else { "" });
        rows.push([
            e.ip.to_string(),
            e.name
                .map_or_else(|| "(not in inventory)".to_owned(), sanitize),
            dash(e.mac),
            dash(e.mfg),
            dash(e.model),
            dash(e.firmware),
            e.services.join(","),
            e.first_seen.to_string(),
            e.last_seen.to_string(),
            format!("{count}: {}", clients.join(",")),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if entries.is_empty() {
        out.push_str("(no printer answered on a monitored port)\n");
    }
    if !unseen.is_empty() {
        out.push_str(&format!(
            "In the policy but never seen: {}\n",
            unseen.join(", ")
        ));
    }
    out
}

/// Device-supplied text goes to a terminal: no control characters (ANSI escapes included).
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::L4;

    #[test]
    fn table_and_json() {
        let mut inv = Inventory::default();
        let ip: IpAddr = "192.0.2.30".parse().unwrap();
        inv.service(ip, L4::Udp, 8611, Timestamp(1));
        inv.identity(
            ip,
            Some("Canon"),
            Some("MG5500\u{1b}[31m series"),
            Some("1.050"),
        );
        inv.client(ip, "192.0.2.5".parse().unwrap(), Timestamp(2));
        let policy = Policy::default();
        let t = render(&inv, &policy, false);
        assert!(t.starts_with("ADDRESS"), "{t}");
        assert!(
            t.contains("192.0.2.30")
                && t.contains("(not in inventory)")
                && t.contains("1: 192.0.2.5")
        );
        assert!(
            !t.contains('\u{1b}'),
            "escape sequences from the wire never reach the terminal"
        );
        let j: serde_json::Value = serde_json::from_str(&render(&inv, &policy, true)).unwrap();
        assert_eq!(j[0]["model"], "MG5500\u{1b}[31m series");
        assert_eq!(j[0]["services"][0], "bjnp/udp/8611");
        assert_eq!(j[0]["clients"][0]["ip"], "192.0.2.5");
        assert_eq!(j[0]["clients_more"], false);
    }
}
