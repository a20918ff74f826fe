//! The rules: each alert's id, name, category and severity, declared once. Detection names a
//! rule by its variant; the record builder reads the id and names from here.

use crate::proto::lpd::Risk as LpdRisk;
use crate::proto::risk::Risk;

/// Every rule bjnp-watch can fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// 1001: a client the policy does not allow contacts a monitored port.
    UnexpectedClient,
    /// 1002: a host not in the inventory answers on a monitored port.
    UnexpectedService,
    /// 1003: a connection is established to a blocked port.
    OpenDespitePolicy,
    /// 1004: one source reaches many printer hosts or ports.
    PortScan,
    /// 1005: many sources reach one printer port.
    PortFlood,
    /// 1006: many sources fail to reach one printer port (protocol and port) across the
    /// network.
    Campaign,
    /// 1101: BJNP discover or get-identity from a client that is not allowed.
    BjnpRecon,
    /// 1102: bytes on a BJNP port that fail the hard checks, or a malformed message.
    BjnpMalformed,
    /// 12xx-14xx: a risky construct in a print stream.
    Print(Risk),
    /// 1501: TCP segments that overlap bytes already received with other bytes (insertion or
    /// evasion: one thing for the monitor, another for the printer).
    TcpOverlapEvasion,
    /// 1502: IP fragments shaped to hide a datagram from a monitor (overlaps with other
    /// bytes, a first fragment inside the transport header, past 64 KiB, never completed).
    FragmentEvasion,
    /// 1601-1604: risky LPD usage (a path in a file name, shell metacharacters, a mail
    /// request, remove-jobs).
    Lpd(LpdRisk),
    /// 1611: an administrative IPP operation from a client the policy does not allow.
    IppAdminOperation,
    /// 1612: an IPP answer whose attribute values would inject lines into a PPD
    /// (CVE-2024-47175).
    IppPpdInjection,
    /// 1621: a CUPS browse announcement from a host that is neither a printer nor allowed.
    CupsBrowsedAnnouncement,
    /// 1622: a CUPS browse announcement whose URI names another address than its sender, from
    /// anyone: the redirect of CVE-2024-47176 (its own budget, so noise cannot spend it).
    CupsBrowsedRedirect,
}

const POLICY: &str = "Policy Violation";
const SCAN: &str = "Detection of a Network Scan";
const LEAK: &str = "Attempted Information Leak";
const ADMIN: &str = "Attempted Administrator Privilege Gain";
const DOS: &str = "Attempted Denial of Service";
const MISC: &str = "Misc Activity";
const BAD: &str = "Potentially Bad Traffic";

/// What a rule is called and how bad it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    pub sid: u32,
    pub name: &'static str,
    pub category: &'static str,
    /// The severity (1 critical ... 4 informational), the one place every alert's comes from;
    /// 1001 is one step more severe when the attempt reached the service.
    pub severity: u8,
}

const fn info(sid: u32, name: &'static str, category: &'static str, severity: u8) -> RuleInfo {
    RuleInfo {
        sid,
        name,
        category,
        severity,
    }
}

impl Rule {
    /// Every rule, in id order.
    pub fn all() -> Vec<Rule> {
        let mut rules = vec![
            Rule::UnexpectedClient,
            Rule::UnexpectedService,
            Rule::OpenDespitePolicy,
            Rule::PortScan,
            Rule::PortFlood,
            Rule::Campaign,
            Rule::BjnpRecon,
            Rule::BjnpMalformed,
        ];
        rules.extend(Risk::ALL.iter().map(|r| Rule::Print(*r)));
        rules.push(Rule::TcpOverlapEvasion);
        rules.push(Rule::FragmentEvasion);
        rules.extend(LpdRisk::ALL.iter().map(|r| Rule::Lpd(*r)));
        rules.extend([
            Rule::IppAdminOperation,
            Rule::IppPpdInjection,
            Rule::CupsBrowsedAnnouncement,
            Rule::CupsBrowsedRedirect,
        ]);
        rules
    }

    pub fn info(self) -> RuleInfo {
        use Risk::*;
        match self {
            Rule::UnexpectedClient => info(1001, "printer-port-unexpected-client", POLICY, 3),
            Rule::UnexpectedService => info(1002, "printer-service-unexpected", POLICY, 2),
            Rule::OpenDespitePolicy => info(1003, "printer-port-open-despite-policy", POLICY, 1),
            Rule::PortScan => info(1004, "printer-port-scan", SCAN, 2),
            Rule::PortFlood => info(1005, "printer-port-flood", SCAN, 2),
            Rule::Campaign => info(1006, "printer-port-campaign", SCAN, 2),
            Rule::BjnpRecon => info(1101, "bjnp-recon", LEAK, 3),
            Rule::BjnpMalformed => info(1102, "bjnp-malformed", BAD, 3),
            // docs/PROTOCOLS.md §6.3-6.6: critical 1, high 2, medium 3, low or informational 4.
            Rule::Print(risk) => match risk {
                FsRead => info(1201, "pjl-fs-read", LEAK, 2),
                FsWrite => info(1202, "pjl-fs-write", ADMIN, 2),
                FsDelete => info(1203, "pjl-fs-delete", ADMIN, 2),
                FsFormat => info(1204, "pjl-fs-format", ADMIN, 1),
                FsEnum => info(1205, "pjl-fs-enumeration", LEAK, 3),
                PathTraversal => info(1206, "pjl-path-traversal", ADMIN, 2),
                LockChange => info(1207, "pjl-lock-change", ADMIN, 2),
                PinGuess => info(1208, "pjl-pin-bruteforce", ADMIN, 2),
                LockProbe => info(1209, "pjl-lock-probe", LEAK, 3),
                ServiceMode => info(1210, "pjl-service-mode", ADMIN, 2),
                NvramWrite => info(1211, "pjl-nvram-wear", DOS, 2),
                Counter => info(1212, "pjl-counter-manipulation", ADMIN, 3),
                PrintingDisabled => info(1213, "pjl-printing-disabled", DOS, 2),
                JobRetention => info(1214, "pjl-job-retention", LEAK, 3),
                DisplayMessage => info(1215, "pjl-display-message", MISC, 4),
                OfflineDos => info(1216, "pjl-offline-dos", DOS, 2),
                DeviceManagement => info(1217, "pjl-device-management", ADMIN, 2),
                DeviceInfo => info(1218, "pjl-device-info", LEAK, 3),
                FactoryReset => info(1219, "pjl-factory-reset", DOS, 1),
                RawNvram => info(1220, "pjl-raw-nvram", ADMIN, 1),
                TestPage => info(1221, "pjl-test-page", MISC, 4),
                Oversized => info(1222, "pjl-oversized-argument", DOS, 2),
                Recon => info(1223, "pjl-recon", LEAK, 4),
                ToolFingerprint => info(1224, "pjl-tool-fingerprint", MISC, 4),
                Exfiltration => info(1225, "pjl-exfiltration-volume", LEAK, 2),
                PsExitServer => info(1301, "postscript-exitserver", ADMIN, 2),
                PsSuperexec => info(1302, "postscript-superexec", ADMIN, 2),
                PsPasswordParams => info(1303, "postscript-password-params", ADMIN, 2),
                PsFactoryDefaults => info(1304, "postscript-factory-defaults", DOS, 2),
                PsPasswordCheck => info(1305, "postscript-password-check", ADMIN, 2),
                PsFileWrite => info(1306, "postscript-file-write", ADMIN, 2),
                PsFsEnum => info(1307, "postscript-fs-enumeration", LEAK, 3),
                PsJobCapture => info(1308, "postscript-job-capture", LEAK, 2),
                PsShowpageRedef => info(1309, "postscript-showpage-redefinition", ADMIN, 2),
                PsInfiniteLoop => info(1310, "postscript-infinite-loop", DOS, 2),
                PsInterpreter => info(1311, "postscript-interpreter-control", ADMIN, 3),
                PsFingerprint => info(1312, "postscript-tool-fingerprint", MISC, 4),
                PsRecon => info(1313, "postscript-recon", LEAK, 4),
                PsObfuscation => info(1314, "postscript-obfuscated-operator", ADMIN, 2),
                PclPermanentMacro => info(1401, "pcl-permanent-macro", ADMIN, 3),
                PclEcho => info(1402, "pcl-echo-exfiltration", LEAK, 3),
                PclRecon => info(1403, "pcl-recon", LEAK, 4),
                BjlPowerOff => info(1411, "bjl-power-off", DOS, 3),
                BjlCounterReset => info(1412, "bjl-ink-counter-reset", ADMIN, 3),
                BjlInkDetection => info(1413, "bjl-ink-detection-change", ADMIN, 3),
                BjlCleaning => info(1414, "bjl-repeated-cleaning", DOS, 3),
            },
            Rule::TcpOverlapEvasion => info(1501, "tcp-overlap-evasion", BAD, 2),
            Rule::FragmentEvasion => info(1502, "fragmentation-evasion", BAD, 2),
            Rule::Lpd(r) => match r {
                LpdRisk::PathInFileName => info(1601, "lpd-path-in-file-name", ADMIN, 2),
                LpdRisk::ShellMetacharacters => info(1602, "lpd-shell-metacharacters", ADMIN, 2),
                LpdRisk::MailRequest => info(1603, "lpd-mail-request", BAD, 3),
                LpdRisk::RemoveJobs => info(1604, "lpd-remove-jobs", DOS, 3),
            },
            Rule::IppAdminOperation => info(1611, "ipp-admin-operation", POLICY, 2),
            Rule::IppPpdInjection => info(1612, "ipp-ppd-injection", ADMIN, 1),
            Rule::CupsBrowsedAnnouncement => info(1621, "cups-browsed-announcement", BAD, 2),
            Rule::CupsBrowsedRedirect => info(1622, "cups-browsed-redirect", ADMIN, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_its_own_id_and_name_and_ids_follow_the_declaration_order() {
        let rules = Rule::all();
        let infos: Vec<RuleInfo> = rules.iter().map(|r| r.info()).collect();
        for (i, a) in infos.iter().enumerate() {
            assert!((1..=4).contains(&a.severity), "{a:?}");
            for b in &infos[..i] {
                assert!(a.sid != b.sid && a.name != b.name, "{a:?} {b:?}");
            }
        }
        // suppression keys order rules like their ids: the variant order must agree
        let mut sorted = rules.clone();
        sorted.sort();
        assert_eq!(sorted, rules);
        assert!(infos.windows(2).all(|w| w[0].sid < w[1].sid));
        assert!(Risk::ALL
            .iter()
            .all(|r| (1201..1500).contains(&Rule::Print(*r).info().sid)));
    }
}
