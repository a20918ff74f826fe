use super::*;
use crate::event::ConnState;

fn attempt(client: &str, port: u16, outcome: Outcome, secs: u64) -> Attempt {
    Attempt {
        start: Timestamp::from_parts(secs, 0),
        client: client.parse().unwrap(),
        server: "10.0.0.30".parse().unwrap(),
        port,
        proto: L4::Tcp,
        outcome,
        conn_state: match outcome {
            Outcome::Established => ConnState::Sf,
            Outcome::Refused => ConnState::Rej,
            _ => ConnState::S0,
        },
        unreachable: None,
    }
}

fn policy() -> Policy {
    Policy::parse(
        "blocked_ports = [8611]\n[clients]\nallow = [\"10.0.0.2\"]\n[[printer]]\nname = \"lobby\"\naddress = \"10.0.0.30\"\n",
        "test.toml",
    )
    .unwrap()
}

fn run(attempts: Vec<Attempt>, change: Option<u64>) -> Report {
    let policy = policy();
    let mut all = Collector::default();
    all.attempts = attempts;
    match change {
        Some(s) => {
            let at = Timestamp::from_parts(s, 0);
            let (b, a) = split(all, at);
            judge(&Inputs {
                policy: &policy,
                before: Some(&b),
                after: &a,
                change_at: Some(at),
            })
        }
        None => judge(&Inputs {
            policy: &policy,
            before: None,
            after: &all,
            change_at: None,
        }),
    }
}

fn row(r: &Report, port: u16) -> &Row {
    r.rows.iter().find(|r| r.port == port).unwrap()
}

#[test]
fn blocked_working_pass() {
    let r = run(
        vec![
            attempt("10.0.0.9", 9100, Outcome::Attempted, 10),
            attempt("10.0.0.9", 8611, Outcome::Refused, 11),
            Attempt {
                proto: L4::Udp,
                unreachable: Some(crate::net::Unreach::Port),
                ..attempt("10.0.0.9", 8611, Outcome::Refused, 11)
            },
            attempt("10.0.0.2", 9100, Outcome::Established, 12),
        ],
        None,
    );
    assert_eq!(row(&r, 9100).reachability, Reachability::Blocked);
    let udp = r.rows.iter().find(|x| x.proto == L4::Udp).unwrap();
    assert_eq!(udp.reach.refused_by_icmp, 1);
    assert_eq!(row(&r, 9100).service, ServiceVerdict::Working);
    assert_eq!(row(&r, 8611).reachability, Reachability::Blocked);
    assert_eq!(r.overall, Overall::Pass, "{:?}", r.reasons);
}

#[test]
fn open_blocked_port_is_severity_one_even_for_allowed_clients() {
    let r = run(
        vec![attempt("10.0.0.2", 8611, Outcome::Established, 10)],
        None,
    );
    let b = row(&r, 8611);
    assert_eq!((b.reachability, b.severity), (Reachability::Open, Some(1)));
    assert_eq!(r.overall, Overall::Fail);
    assert!(r.reasons[0].contains("blocked port"), "{:?}", r.reasons);
}

#[test]
fn half_open_is_open_and_untested_blocked_port_is_inconclusive() {
    let r = run(vec![attempt("10.0.0.9", 9100, Outcome::HalfOpen, 10)], None);
    assert_eq!(row(&r, 9100).reachability, Reachability::Open);
    let r = run(
        vec![attempt("10.0.0.2", 9100, Outcome::Established, 10)],
        None,
    );
    let u = row(&r, 8611);
    assert_eq!(u.reachability, Reachability::Untested);
    assert!(u.reach.how_to_test.as_deref().unwrap().contains("nmap"));
    assert_eq!(r.overall, Overall::Inconclusive);
}

#[test]
fn before_and_after_the_change() {
    let r = run(
        vec![
            attempt("10.0.0.9", 9100, Outcome::Established, 10),
            attempt("10.0.0.2", 9100, Outcome::Established, 11),
            attempt("10.0.0.9", 9100, Outcome::Attempted, 30),
            attempt("10.0.0.2", 9100, Outcome::Refused, 31),
            attempt("10.0.0.9", 8611, Outcome::Attempted, 32),
        ],
        Some(20),
    );
    let p = row(&r, 9100);
    let before = p.before.as_ref().unwrap();
    assert_eq!(before.reachability, Reachability::Open);
    assert_eq!(before.service, ServiceVerdict::Working);
    assert_eq!(p.reachability, Reachability::Blocked);
    assert_eq!(p.service, ServiceVerdict::Broken, "the fix broke printing");
    assert_eq!(r.overall, Overall::Fail);
    assert!(r.reasons.iter().any(|s| s.contains("broke printing")));
}

#[test]
fn no_traffic_is_inconclusive() {
    let r = run(vec![], None);
    assert_eq!(r.overall, Overall::Inconclusive);
    assert_eq!(Overall::Inconclusive.exit_code(), 3);
}
