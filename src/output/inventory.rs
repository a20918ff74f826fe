//! The `inventory` subcommand's report: a table for people, JSON for scripts.

use crate::event::InventoryReport;

/// The printers in address order, then the policy's printers that were never seen.
pub fn render(report: &InventoryReport, json: bool) -> String {
    let entries = &report.printers;
    let unseen: Vec<String> = report
        .unseen
        .iter()
        .map(|(address, name)| format!("{address} ({name})"))
        .collect();
    if json {
        let mut s = serde_json::to_string_pretty(entries).unwrap_or_else(|_| "[]".into());
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
    for e in entries {
        let clients: Vec<String> = e.clients.iter().map(|c| c.ip.to_string()).collect();
        let count = format!("{}{}", clients.len(), if e.clients_more { "+" } else { "" });
        rows.push([
            e.ip.to_string(),
            e.name
                .as_deref()
                .map_or_else(|| "(not in inventory)".to_owned(), sanitize),
            dash(e.mac.as_deref()),
            dash(e.mfg.as_deref()),
            dash(e.model.as_deref()),
            dash(e.firmware.as_deref()),
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
    use crate::event::{InventoryClient, InventoryEntry};
    use crate::net::Timestamp;
    use std::net::IpAddr;

    #[test]
    fn table_and_json() {
        let ip: IpAddr = "192.0.2.30".parse().unwrap();
        let report = InventoryReport {
            printers: vec![InventoryEntry {
                ip,
                name: None,
                in_inventory: false,
                mac: None,
                mfg: Some("Canon".into()),
                model: Some("MG5500\u{1b}[31m series".into()),
                firmware: Some("1.050".into()),
                services: vec!["bjnp/udp/8611".into()],
                first_seen: Timestamp(1),
                last_seen: Timestamp(2),
                clients: vec![InventoryClient {
                    ip: "192.0.2.5".parse().unwrap(),
                    first_seen: Timestamp(2),
                    last_seen: Timestamp(2),
                }],
                clients_more: false,
            }],
            unseen: vec![("192.0.2.99".parse().unwrap(), "floor9".into())],
        };
        let t = render(&report, false);
        assert!(t.starts_with("ADDRESS"), "{t}");
        assert!(
            t.contains("192.0.2.30")
                && t.contains("(not in inventory)")
                && t.contains("1: 192.0.2.5")
        );
        assert!(
            t.ends_with("In the policy but never seen: 192.0.2.99 (floor9)\n"),
            "{t}"
        );
        assert!(
            !t.contains('\u{1b}'),
            "escape sequences from the wire never reach the terminal"
        );
        let j: serde_json::Value = serde_json::from_str(&render(&report, true)).unwrap();
        assert_eq!(j[0]["model"], "MG5500\u{1b}[31m series");
        assert_eq!(j[0]["services"][0], "bjnp/udp/8611");
        assert_eq!(j[0]["clients"][0]["ip"], "192.0.2.5");
        assert_eq!(j[0]["clients_more"], false);
        assert!(j[0].get("name").is_none());
    }
}
