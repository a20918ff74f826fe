//! The records of the printer's other doors: LPD jobs and commands (`lpd`), IPP operations
//! (`ipp`), TLS sessions on a printer port (`tls`), and CUPS browse announcements
//! (`cups_browsed`). Wire strings are capped and made valid UTF-8 before they get here.

use crate::proto::ipp::Operation;
use crate::proto::lpd::{Command, FileKind, Format, Risk as LpdRisk};
use serde::Serialize;

fn is_false(b: &bool) -> bool {
    !*b
}

/// One LPD daemon command, or one job of a receive-job connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lpd {
    pub command: Command,
    pub queue: String,
    /// The rest of the command line: the agent and job list of a remove, a queue-state list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operands: Option<String>,
    /// The job's control and data files, in the order they came (the first 16).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<LpdFile>,
    /// How many files the job had, when more than are listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_total: Option<u64>,
    /// What the control file says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<LpdControl>,
    /// The client aborted the job.
    #[serde(skip_serializing_if = "is_false")]
    pub aborted: bool,
    /// The risky usage found (each also an alert).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<LpdRisk>,
}

/// One control or data file of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LpdFile {
    pub kind: FileKind,
    pub name: String,
    /// The announced size; absent for 0 (an empty file, or one that runs to the connection's
    /// end: `received` tells).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Bytes seen.
    pub received: u64,
    /// Every announced byte and the NUL after them came.
    pub complete: bool,
}

/// The lines of a control file that say who printed what.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LpdControl {
    /// `H`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `P`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `J`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// `N`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// `T`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `C`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// `L`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// `M`: whom to mail when the job ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// The print lines (`l`, `o`, `f`, ...): the format and the data file (the first 16).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prints: Vec<LpdPrint>,
    /// `U`: files to remove when the job ends (the first 16).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unlink: Vec<String>,
    pub lines: u64,
    /// The control file was longer than what is read of it.
    #[serde(skip_serializing_if = "is_false")]
    pub cut: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LpdPrint {
    pub format: Format,
    pub file: String,
}

/// One IPP operation: the request, and the response when it came.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ipp {
    /// `2.0`
    pub version: String,
    pub request_id: u32,
    pub operation: Operation,
    pub operation_id: u16,
    /// The HTTP exchange it travelled in.
    pub http: IppHttp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printer_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requesting_user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_format: Option<String>,
    /// Document bytes after the request's attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i32>,
    /// Who the printer says it is (from a response's printer attributes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printer: Option<IppPrinter>,
    /// A response attribute whose value would inject lines into the PPD a CUPS client builds
    /// from it (a newline, `*FoomaticRIPCommandLine`, `*cupsFilter2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppd_injection: Option<PpdInjection>,
    pub attributes_toserver: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes_toclient: Option<u32>,
}

impl Ipp {
    /// An operation known so far only by the HTTP exchange it travels in; its IPP header and
    /// attributes fill in the rest.
    pub fn new(http: IppHttp) -> Self {
        Ipp {
            version: String::new(),
            request_id: 0,
            operation: Operation::Other,
            operation_id: 0,
            http,
            status: None,
            status_code: None,
            printer_uri: None,
            requesting_user_name: None,
            job_name: None,
            document_format: None,
            document_bytes: None,
            job_id: None,
            printer: None,
            ppd_injection: None,
            attributes_toserver: 0,
            attributes_toclient: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IppHttp {
    pub method: String,
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The request body came in chunks.
    #[serde(skip_serializing_if = "is_false")]
    pub chunked: bool,
    /// The client waited for `100 Continue`.
    #[serde(skip_serializing_if = "is_false")]
    pub expect_continue: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IppPrinter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub make_and_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<i32>,
}

impl IppPrinter {
    pub fn is_empty(&self) -> bool {
        *self == IppPrinter::default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PpdInjection {
    pub attribute: String,
    /// The value, capped (the output format escapes its newlines).
    pub value: String,
}

/// A TLS session on a printer port (IPPS on 631): what its ClientHello says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    pub version: String,
}

/// One CUPS browse announcement (UDP 631).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CupsBrowsed {
    pub printer_type: u32,
    pub printer_state: u32,
    pub uri: String,
    pub uri_host: String,
    /// The announced URI names another host than the datagram's sender: a redirect to a
    /// server of someone's choosing (the CVE-2024-47176 chain). Absent when the URI names its
    /// host by name (the sensor resolves nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub make_and_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
}

/// The site policy was read again (SIGHUP) and took over without a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reload {
    /// Where it came from (`/etc/bjnp-watch.toml`, `+ command line` for the shorthands).
    pub policy: String,
    /// SHA-1 of the policy file's text (`none` without a file): which version runs now.
    pub digest: String,
    pub printers: Change,
    pub clients: Change,
    pub tcp_ports: Change,
    pub udp_ports: Change,
    pub blocked_ports: Change,
    /// The monitored ports changed and the capture filter and flow stage follow them; false
    /// when they changed but cannot follow here (`--workers`: a restart applies them).
    pub ports_applied: bool,
    /// Settings that changed but take effect only at a restart (`defrag_policy`, `sensor`,
    /// `kafka`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs_restart: Vec<&'static str>,
}

/// A count before and after a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub before: u64,
    pub after: u64,
}

impl Change {
    pub fn of((before, after): (usize, usize)) -> Self {
        Change {
            before: before as u64,
            after: after as u64,
        }
    }
}

/// The TLS version a ClientHello names, as records say it.
pub fn tls_version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v => format!("0x{v:04x}"),
    }
}
