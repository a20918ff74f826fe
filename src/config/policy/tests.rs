use super::*;

#[test]
fn effective_policy_reads_back_as_the_same_policy() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/policy/site.toml"
    ))
    .unwrap();
    let p = Policy::parse(&text, "site.toml").unwrap();
    let shown = p.effective_toml();
    let q = Policy::parse(&shown, "shown").unwrap_or_else(|e| panic!("{e}\n{shown}"));
    assert_eq!(
        format!(
            "{:?}",
            Policy {
                origin: String::new(),
                digest: String::new(),
                ..q
            }
        ),
        format!(
            "{:?}",
            Policy {
                origin: String::new(),
                digest: String::new(),
                ..p
            }
        )
    );
}

const SITE: &str = r#"
monitor_ports = { tcp = [8610, 8611, 8612, 8613, 8614, 9100, 9101, 9102], udp = [8610, 8611, 8612, 8613, 8614] }
blocked_ports = [9100]

[[printer]]
name = "floor2-canon"
address = "10.1.2.30"
allow = ["10.1.0.10/32"]

[clients]
allow = ["10.1.0.0/28", "fd00:1::/64"]

[scan]
hosts = 8
ports = 4
window = "60s"

[suppress]
window = "1h"
"#;

#[test]
fn the_design_example_parses() {
    let p = Policy::parse(SITE, "site.toml").unwrap();
    assert!(p.ports.tcp(9100) && p.ports.udp(8612) && !p.ports.udp(9100));
    assert!(p.is_blocked(9100));
    assert_eq!(p.printers[0].name, "floor2-canon");
    let printer: IpAddr = "10.1.2.30".parse().unwrap();
    assert!(p.allows("10.1.0.5".parse().unwrap(), printer));
    assert!(p.allows("fd00:1::9".parse().unwrap(), printer));
    // printer-specific allow applies to that printer only
    assert!(p.allows("10.1.0.10".parse().unwrap(), printer));
    assert!(!p.allows("10.1.0.16".parse().unwrap(), printer));
    assert!(!p.allows("10.1.0.16".parse().unwrap(), "10.9.9.9".parse().unwrap()));
    assert_eq!(p.scan_window, Duration::from_secs(60));
    assert_eq!(p.suppress_window, Duration::from_secs(3600));
    assert!(p.missed_allow(printer).contains("floor2-canon"));
}

#[test]
fn what_a_client_missed_names_each_list_it_is_not_on() {
    let p = Policy::parse(SITE, "site.toml").unwrap();
    let printer: IpAddr = "10.1.2.30".parse().unwrap();
    let elsewhere: IpAddr = "10.9.9.9".parse().unwrap();
    let global = p
        .clients_allow
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let own = p.printers[0]
        .allow
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let anywhere = format!("not in [clients].allow ({global})");
    assert_eq!(p.missed_allow(elsewhere), anywhere);
    let at_printer = format!("{anywhere} nor printer 'floor2-canon' allow ({own})");
    assert_eq!(p.missed_allow(printer), at_printer);
    // the words are written once and handed out again, the same each time
    assert_eq!(p.missed_allow(printer), at_printer);
    assert_eq!(p.missed_allow(elsewhere), anywhere);
    assert_eq!(
        Policy::default().missed_allow(elsewhere),
        "no [clients].allow entry"
    );
}

fn err(text: &str) -> String {
    Policy::parse(text, "p.toml").unwrap_err().to_string()
}

#[test]
fn errors_name_file_line_and_reason() {
    let e = err("blocked_ports = [9100]\n\n[clients]\nallow = [\"10.1.0.0/33\"]\n");
    assert!(e.starts_with("policy 'p.toml' line 4:"), "{e}");
    let e = err("[clients]\nalow = []\n");
    assert!(
        e.contains("line 2") && e.contains("unknown field `alow`"),
        "{e}"
    );
    let e = err("[scan]\nwindow = \"soon\"\n");
    assert!(
        e.contains("line 2") && e.contains("bad duration 'soon'"),
        "{e}"
    );
    let e = err("blocked_ports = \"9100\"\n");
    assert!(e.contains("line 1") && e.contains("invalid type"), "{e}");
    let e = err("[[printer]]\nname = \"a\"\naddress = \"10.0.0.300\"\n");
    assert!(e.contains("line 3"), "{e}");
    let e = err("this is not toml");
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn references_to_nothing_and_contradictions() {
    let e = err("monitor_ports = { tcp = [9100] }\nblocked_ports = [8611]\n");
    assert!(
        e.contains("line 2") && e.contains("not a monitored port"),
        "{e}"
    );
    let e = err("# [[printer]] comes below\n[[printer]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[printer]]\nname = \"b\"\naddress = \"10.0.0.1\"\n");
    assert!(
        e.contains("same address") && e.contains("line 5"),
        "the second entry, not a comment: {e}"
    );
    let e = err("[scan]\nhosts = 5000\n");
    assert!(e.contains("at most 256"), "{e}");
    let e = err("[suppress]\nwindow = \"0s\"\n[scan]\nwindow = \"60s\"\n");
    assert!(e.contains("line 1") && e.contains("suppress.window"), "{e}");
    let e = err("[scan]\nhosts = 1\n");
    assert!(e.contains("at least 2"), "{e}");
    let e = err("monitor_ports = { tcp = [], udp = [] }\n");
    assert!(e.contains("no port"), "{e}");
    let e = err("[clients]\nallow = [\"10.0.0.5\", \"nonsense\"]\n");
    assert!(
        e.contains("line 2") && e.contains("'nonsense' is neither a CIDR"),
        "{e}"
    );
    // a bare address is one host
    let p = Policy::parse("[clients]\nallow = [\"10.0.0.5\"]\n", "p").unwrap();
    assert!(p.trusted("10.0.0.5".parse().unwrap()) && !p.trusted("10.0.0.6".parse().unwrap()));
}

#[test]
fn shorthands_without_a_file() {
    let cli = Shorthands {
        allow: vec!["192.0.2.8/29".parse().unwrap()],
        printers: vec!["192.0.2.30".parse().unwrap()],
        blocked_ports: vec![9100],
        defrag_policy: Some(OverlapPolicy::Bsd),
    };
    let p = Policy::load(None, &cli).unwrap();
    assert_eq!(p.defrag_policy, OverlapPolicy::Bsd);
    assert!(p.effective_toml().contains("[defrag]\npolicy = \"bsd\""));
    let f = Policy::parse("[defrag]\npolicy = \"first\"\n", "t.toml").unwrap();
    assert_eq!(f.defrag_policy, OverlapPolicy::First);
    let e = Policy::parse("[defrag]\npolicy = \"windows\"\n", "t.toml").unwrap_err();
    assert!(
        e.to_string().contains("one of: linux, first, last, bsd"),
        "{e}"
    );
    assert!(p.allows("192.0.2.10".parse().unwrap(), "192.0.2.30".parse().unwrap()));
    assert!(p.printer("192.0.2.30".parse().unwrap()).is_some());
    assert!(p.is_blocked(9100));
    assert_eq!(p.origin, "command line");
    let bad = Shorthands {
        blocked_ports: vec![80],
        ..Shorthands::default()
    };
    assert!(Policy::load(None, &bad)
        .unwrap_err()
        .to_string()
        .contains("not a monitored port"));
}
