//! The printers bjnp-watch has seen: every host that answered on a monitored port, with the
//! identity its BJNP answers gave away and the clients that used it. Capped, like every table
//! fed from the wire.

use crate::bounded::BoundedMap;
use crate::config::Policy;
use crate::event::{text, InventoryClient, InventoryEntry, InventoryReport, PrinterChange};
use crate::net::{Service, Timestamp, L4};
use std::net::IpAddr;

/// A site has tens or hundreds of printers; the cap bounds what spoofed answers can add.
const PRINTERS_CAP: usize = 4_096;
/// Clients remembered per printer (the rest are counted).
pub const CLIENTS_PER_PRINTER: usize = 64;
const _: () = assert!(CLIENTS_PER_PRINTER <= u8::MAX as usize + 1);
const SERVICES_PER_PRINTER: usize = 16;

#[derive(Clone, Debug, Default)]
pub struct PrinterState {
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// (what the port is for, transport, port), e.g. (Bjnp, Udp, 8611).
    pub services: Vec<(Service, L4, u16)>,
    pub mac: Option<String>,
    pub mfg: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    /// (client, first, last), the first `CLIENTS_PER_PRINTER` distinct clients.
    pub clients: Vec<(IpAddr, Timestamp, Timestamp)>,
    /// Where each client of `clients` is: a busy printer's list is full, and every new
    /// client's flow searched all of it (a fiftieth of a printer-heavy replay).
    client_at: hashbrown::HashMap<IpAddr, u8>,
    /// More distinct clients than the list holds were seen (how many more is not counted:
    /// that would need unbounded memory).
    pub clients_more: bool,
    /// Why a `printer` record is due (set during a packet, cleared when written).
    pub dirty: Option<PrinterChange>,
}

impl PrinterState {
    pub fn service_labels(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .services
            .iter()
            .map(|(svc, l4, port)| {
                format!("{}/{}/{port}", svc.name(), l4.name().to_ascii_lowercase())
            })
            .collect();
        v.sort();
        v
    }

    /// One record per packet says the most significant change: new > identity > mac > service.
    fn mark(&mut self, why: PrinterChange) {
        if self.dirty.is_none_or(|d| why > d) {
            self.dirty = Some(why);
        }
    }
}

pub struct Inventory {
    map: BoundedMap<IpAddr, PrinterState>,
    /// Printers marked during the current packet: flushing looks at these, not the whole map.
    due: Vec<IpAddr>,
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory {
            map: BoundedMap::new(PRINTERS_CAP),
            due: Vec::new(),
        }
    }
}

impl Inventory {
    /// Printers forgotten because the inventory was full (the longest unseen first).
    pub fn evicted(&self) -> u64 {
        self.map.evicted()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Changes whenever a printer is added or forgotten.
    pub fn generation(&self) -> u64 {
        self.map.len() as u64 + self.map.evicted()
    }

    /// Every printer known now.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.map.sorted().into_iter().map(|(ip, _)| *ip).collect()
    }

    /// Whether `ip` answered on a monitored port.
    pub fn knows(&self, ip: IpAddr) -> bool {
        self.map.get(&ip).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// `ip` answered on `l4/port`.
    pub fn service(&mut self, ip: IpAddr, l4: L4, port: u16, now: Timestamp) {
        if self.map.get(&ip).is_none() {
            self.map.insert(
                ip,
                PrinterState {
                    first_seen: now,
                    last_seen: now,
                    dirty: Some(PrinterChange::New),
                    ..Default::default()
                },
                now,
            );
        }
        self.map.touch(&ip, now);
        let Some(p) = self.map.get_mut(&ip) else {
            return;
        };
        p.last_seen = p.last_seen.max(now);
        let svc = (Service::of(l4, port), l4, port);
        if !p.services.contains(&svc) && p.services.len() < SERVICES_PER_PRINTER {
            p.services.push(svc);
            p.mark(PrinterChange::Service);
        }
        if p.dirty.is_some() {
            self.due.push(ip);
        }
    }

    /// A flow with `client` ended at `when`: last-seen times move forward.
    pub fn seen(&mut self, ip: IpAddr, client: IpAddr, when: Timestamp) {
        self.client(ip, client, when);
        if let Some(p) = self.map.get_mut(&ip) {
            p.last_seen = p.last_seen.max(when);
        }
    }

    /// `client` used the printer at `ip`.
    pub fn client(&mut self, ip: IpAddr, client: IpAddr, now: Timestamp) {
        let Some(p) = self.map.get_mut(&ip) else {
            return;
        };
        if let Some(&i) = p.client_at.get(&client) {
            let c = &mut p.clients[usize::from(i)];
            c.2 = c.2.max(now);
        } else if p.clients.len() < CLIENTS_PER_PRINTER {
            // CLIENTS_PER_PRINTER fits a u8
            p.client_at.insert(client, p.clients.len() as u8);
            p.clients.push((client, now, now));
        } else {
            p.clients_more = true;
        }
    }

    /// Identity from a get-identity answer (known printers only: the answer made it one).
    pub fn identity(
        &mut self,
        ip: IpAddr,
        mfg: Option<&str>,
        model: Option<&str>,
        firmware: Option<&str>,
    ) {
        let Some(p) = self.map.get_mut(&ip) else {
            return;
        };
        // Compared before anything is copied: a printer answers with the same identity again
        // and again, and only a change is kept.
        fn cap(s: Option<&str>) -> Option<&str> {
            s.map(|s| text::cap_str(s, text::MAX_FIELD))
        }
        let (mfg, model, firmware) = (cap(mfg), cap(model), cap(firmware));
        let differs = |new: Option<&str>, old: &Option<String>| {
            new.is_some_and(|n| old.as_deref() != Some(n))
        };
        let changed =
            differs(mfg, &p.mfg) || differs(model, &p.model) || differs(firmware, &p.firmware);
        if changed {
            let keep = |new: Option<&str>, old: &mut Option<String>| {
                if let Some(n) = new {
                    *old = Some(n.to_owned());
                }
            };
            keep(mfg, &mut p.mfg);
            keep(model, &mut p.model);
            keep(firmware, &mut p.firmware);
            p.mark(PrinterChange::Identity);
            self.due.push(ip);
        }
    }

    pub fn mac(&mut self, ip: IpAddr, mac: &str) {
        let Some(p) = self.map.get_mut(&ip) else {
            return;
        };
        if p.mac.as_deref() != Some(mac) {
            p.mac = Some(mac.to_owned());
            p.mark(PrinterChange::Mac);
            self.due.push(ip);
        }
    }

    /// Printers with a record due, in address order; their marks are cleared.
    pub fn take_dirty(&mut self) -> Vec<(IpAddr, PrinterState)> {
        if self.due.is_empty() {
            return Vec::new();
        }
        let mut due = std::mem::take(&mut self.due);
        due.sort();
        due.dedup();
        due.into_iter()
            .filter_map(|ip| {
                let p = self.map.get_mut(&ip)?;
                p.dirty?;
                let snapshot = p.clone();
                p.dirty = None;
                Some((ip, snapshot))
            })
            .collect()
    }

    /// Every printer, in address order.
    pub fn all(&self) -> Vec<(IpAddr, &PrinterState)> {
        self.map
            .sorted()
            .into_iter()
            .map(|(ip, p)| (*ip, p))
            .collect()
    }

    /// The inventory as a report, with the policy's names and its printers never seen.
    pub fn report(&self, policy: &Policy) -> InventoryReport {
        let printers: Vec<InventoryEntry> = self
            .all()
            .into_iter()
            .map(|(ip, p)| InventoryEntry {
                ip,
                name: policy.printer(ip).map(|x| x.name.clone()),
                in_inventory: policy.printer(ip).is_some(),
                mac: p.mac.clone(),
                mfg: p.mfg.clone(),
                model: p.model.clone(),
                firmware: p.firmware.clone(),
                services: p.service_labels(),
                first_seen: p.first_seen,
                last_seen: p.last_seen,
                clients: p
                    .clients
                    .iter()
                    .map(|&(ip, first_seen, last_seen)| InventoryClient {
                        ip,
                        first_seen,
                        last_seen,
                    })
                    .collect(),
                clients_more: p.clients_more,
            })
            .collect();
        let unseen = policy
            .printers
            .iter()
            .filter(|p| !printers.iter().any(|e| e.ip == p.address))
            .map(|p| (p.address, p.name.clone()))
            .collect();
        InventoryReport { printers, unseen }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_printer_then_changes() {
        let mut inv = Inventory::default();
        let ip: IpAddr = "192.0.2.30".parse().unwrap();
        inv.service(ip, L4::Udp, 8611, Timestamp(1));
        inv.identity(ip, Some("Canon"), Some("MG5500 series"), Some("1.050"));
        let due = inv.take_dirty();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.dirty, Some(PrinterChange::New));
        assert_eq!(due[0].1.model.as_deref(), Some("MG5500 series"));
        // the same again: nothing due
        inv.service(ip, L4::Udp, 8611, Timestamp(2));
        inv.identity(ip, Some("Canon"), Some("MG5500 series"), Some("1.050"));
        assert!(inv.take_dirty().is_empty());
        // firmware changed
        inv.identity(ip, None, None, Some("1.060"));
        let due = inv.take_dirty();
        assert_eq!(due[0].1.dirty, Some(PrinterChange::Identity));
        assert_eq!(due[0].1.firmware.as_deref(), Some("1.060"));
        assert_eq!(due[0].1.model.as_deref(), Some("MG5500 series"));
        inv.service(ip, L4::Tcp, 9100, Timestamp(3));
        assert_eq!(
            inv.take_dirty()[0].1.service_labels(),
            ["bjnp/udp/8611", "raw/tcp/9100"]
        );
    }

    #[test]
    fn clients_are_capped_and_counted() {
        let mut inv = Inventory::default();
        let ip: IpAddr = "192.0.2.30".parse().unwrap();
        inv.service(ip, L4::Tcp, 9100, Timestamp(1));
        for i in 0..200u32 {
            let c = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            inv.client(ip, c, Timestamp(2));
            inv.client(ip, c, Timestamp(3));
        }
        let all = inv.all();
        assert_eq!(all[0].1.clients.len(), CLIENTS_PER_PRINTER);
        assert!(all[0].1.clients_more);
        assert_eq!(all[0].1.clients[0].2, Timestamp(3));
    }

    #[test]
    fn the_report_names_printers_and_lists_the_unseen() {
        let policy = Policy::parse(
            "[[printer]]\nname = \"floor2\"\naddress = \"192.0.2.30\"\n[[printer]]\nname = \"gone\"\naddress = \"192.0.2.99\"\n",
            "p.toml",
        )
        .unwrap();
        let mut inv = Inventory::default();
        for ip in ["192.0.2.31", "192.0.2.30"] {
            inv.service(ip.parse().unwrap(), L4::Tcp, 9100, Timestamp(1));
        }
        let r = inv.report(&policy);
        let names: Vec<_> = r
            .printers
            .iter()
            .map(|e| (e.ip.to_string(), e.name.clone(), e.in_inventory))
            .collect();
        assert_eq!(
            names,
            [
                ("192.0.2.30".to_string(), Some("floor2".to_string()), true),
                ("192.0.2.31".to_string(), None, false)
            ]
        );
        assert_eq!(
            r.unseen,
            [("192.0.2.99".parse().unwrap(), "gone".to_string())]
        );
        assert_eq!(r.printers[0].services, ["raw/tcp/9100"]);
    }
}
