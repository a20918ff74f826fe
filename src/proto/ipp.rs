//! The IPP message (RFC 8010 §3): an 8-byte header (version, operation-id or status-code,
//! request-id), attribute groups, end-of-attributes, then document data. A push parser over the
//! HTTP body as the framer hands it on, in pieces cut anywhere, in fixed memory.
//!
//! Names are the IANA registry's spellings ("Print-Job", "client-error-not-possible",
//! "textWithoutLanguage"): what CUPS logs and what packet dissectors show, so an analyst can
//! search for them.

use crate::net::named_enum;

/// The header: version-number (2), operation-id or status-code (2), request-id (4).
pub const HEADER_LEN: usize = 8;
/// The longest attribute name accepted. IPP keywords, attribute names among them, are at most 255
/// octets (RFC 8011); a longer name is not IPP from any implementation, so it is an error rather
/// than a name to cap.
pub const MAX_NAME: usize = 256;
/// The most value bytes kept of one attribute; the rest is skipped and counted (`value_len`).
/// Enough for any URI, name or text a record shows; octetStrings can be longer and are cut.
pub const MAX_VALUE: usize = 4096;

/// The fixed header. `code` is the operation-id in a request and the status-code in a response:
/// the message alone does not say which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: (u8, u8),
    pub code: u16,
    pub request_id: u32,
}

impl Header {
    /// The operation, when this is a request.
    pub fn operation(&self) -> Operation {
        Operation::from_code(self.code)
    }

    /// The status-code's name, when this is a response.
    pub fn status_name(&self) -> &'static str {
        status_name(self.code)
    }
}

/// A begin-attribute-group tag (delimiter tags 0x01, 0x02, 0x04-0x0F).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupTag {
    Operation,
    Job,
    Printer,
    Unsupported,
    Subscription,
    EventNotification,
    Resource,
    Document,
    System,
    /// 0x0B-0x0F: delimiters reserved for future groups, reported rather than refused so that a
    /// new kind of group is seen as one and not mistaken for broken framing.
    Reserved(u8),
}

impl GroupTag {
    /// The group a delimiter tag begins; `None` for 0x00 (never valid) and 0x03
    /// (end-of-attributes) and for anything that is not a delimiter.
    pub fn from_code(code: u8) -> Option<GroupTag> {
        Some(match code {
            0x01 => GroupTag::Operation,
            0x02 => GroupTag::Job,
            0x04 => GroupTag::Printer,
            0x05 => GroupTag::Unsupported,
            0x06 => GroupTag::Subscription,
            0x07 => GroupTag::EventNotification,
            0x08 => GroupTag::Resource,
            0x09 => GroupTag::Document,
            0x0A => GroupTag::System,
            0x0B..=0x0F => GroupTag::Reserved(code),
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        match self {
            GroupTag::Operation => 0x01,
            GroupTag::Job => 0x02,
            GroupTag::Printer => 0x04,
            GroupTag::Unsupported => 0x05,
            GroupTag::Subscription => 0x06,
            GroupTag::EventNotification => 0x07,
            GroupTag::Resource => 0x08,
            GroupTag::Document => 0x09,
            GroupTag::System => 0x0A,
            GroupTag::Reserved(c) => c,
        }
    }

    /// The stable name records carry.
    pub fn name(self) -> &'static str {
        match self {
            GroupTag::Operation => "operation-attributes-tag",
            GroupTag::Job => "job-attributes-tag",
            GroupTag::Printer => "printer-attributes-tag",
            GroupTag::Unsupported => "unsupported-attributes-tag",
            GroupTag::Subscription => "subscription-attributes-tag",
            GroupTag::EventNotification => "event-notification-attributes-tag",
            GroupTag::Resource => "resource-attributes-tag",
            GroupTag::Document => "document-attributes-tag",
            GroupTag::System => "system-attributes-tag",
            GroupTag::Reserved(_) => "reserved",
        }
    }
}

/// Declares every value tag once: its variant, code and name.
macro_rules! value_tags {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal; )*) => {
        /// An attribute's value-tag (syntax).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ValueTag {
            $( $(#[$doc])* $variant, )*
            /// 0x7F: the real tag is the 4 bytes the value starts with; the parser takes them
            /// off the value and gives them here.
            Extension(u32),
            /// A value tag not assigned (0x14, 0x18-0x20, 0x24-0x2F, 0x38-0x40, 0x43, 0x4B-0x7E
            /// and above 0x7F), kept as sent.
            Other(u8),
        }

        const VALUE_TAGS: &[(u8, ValueTag, &str)] = &[
            $( ($code, ValueTag::$variant, $name), )*
        ];
    };
}

value_tags! {
    /// Out-of-band values (0x10-0x1F): the attribute has no value of its syntax.
    Unsupported = 0x10, "unsupported";
    Default = 0x11, "default";
    Unknown = 0x12, "unknown";
    NoValue = 0x13, "no-value";
    NotSettable = 0x15, "not-settable";
    DeleteAttribute = 0x16, "delete-attribute";
    AdminDefine = 0x17, "admin-define";
    Integer = 0x21, "integer";
    Boolean = 0x22, "boolean";
    Enum = 0x23, "enum";
    OctetString = 0x30, "octetString";
    DateTime = 0x31, "dateTime";
    Resolution = 0x32, "resolution";
    RangeOfInteger = 0x33, "rangeOfInteger";
    BegCollection = 0x34, "begCollection";
    /// Value: language length (2), language, text length (2), text.
    TextWithLanguage = 0x35, "textWithLanguage";
    NameWithLanguage = 0x36, "nameWithLanguage";
    EndCollection = 0x37, "endCollection";
    TextWithoutLanguage = 0x41, "textWithoutLanguage";
    NameWithoutLanguage = 0x42, "nameWithoutLanguage";
    Keyword = 0x44, "keyword";
    Uri = 0x45, "uri";
    UriScheme = 0x46, "uriScheme";
    Charset = 0x47, "charset";
    NaturalLanguage = 0x48, "naturalLanguage";
    MimeMediaType = 0x49, "mimeMediaType";
    MemberAttrName = 0x4A, "memberAttrName";
}

impl ValueTag {
    /// The tag a wire byte stands for; 0x7F gives `Extension(0)` (the parser fills in the real
    /// tag from the value). Delimiter codes (below 0x10) are not value tags and give `Other`.
    pub fn from_code(code: u8) -> ValueTag {
        if code == 0x7F {
            return ValueTag::Extension(0);
        }
        VALUE_TAGS
            .iter()
            .find(|(c, _, _)| *c == code)
            .map_or(ValueTag::Other(code), |(_, t, _)| *t)
    }

    /// The wire byte.
    pub fn code(self) -> u8 {
        match self {
            ValueTag::Extension(_) => 0x7F,
            ValueTag::Other(c) => c,
            t => VALUE_TAGS
                .iter()
                .find(|(_, v, _)| *v == t)
                .map_or(0, |(c, _, _)| *c),
        }
    }

    /// The stable name records carry.
    pub fn name(self) -> &'static str {
        match self {
            ValueTag::Extension(_) => "extension",
            ValueTag::Other(_) => "unassigned",
            t => VALUE_TAGS
                .iter()
                .find(|(_, v, _)| *v == t)
                .map_or("unassigned", |(_, _, n)| n),
        }
    }

    /// The string-valued syntaxes: their values are text (for the WithLanguage forms, after a
    /// language; see `text_value`).
    pub fn is_text(self) -> bool {
        matches!(
            self,
            ValueTag::TextWithLanguage
                | ValueTag::NameWithLanguage
                | ValueTag::TextWithoutLanguage
                | ValueTag::NameWithoutLanguage
                | ValueTag::Keyword
                | ValueTag::Uri
                | ValueTag::UriScheme
                | ValueTag::Charset
                | ValueTag::NaturalLanguage
                | ValueTag::MimeMediaType
                | ValueTag::MemberAttrName
        )
    }

    /// Out-of-band: the attribute is unsupported, unknown, has no value...
    pub fn is_out_of_band(self) -> bool {
        (0x10..=0x1F).contains(&self.code())
    }
}

/// The text of a string-valued attribute's value: the text part of a WithLanguage value
/// (language length, language, text length, text), the whole value of the other text syntaxes,
/// nothing for the rest. A WithLanguage value that was cut (`MAX_VALUE`) gives the text as far
/// as it was kept; one whose lengths do not fit gives what follows the language, or nothing.
pub fn text_value(tag: ValueTag, value: &[u8]) -> &[u8] {
    match tag {
        ValueTag::TextWithLanguage | ValueTag::NameWithLanguage => {
            let Some((lang_len, rest)) = split_u16(value) else {
                return &[];
            };
            let Some((_, rest)) = rest.split_at_checked(usize::from(lang_len)) else {
                return &[];
            };
            let Some((text_len, text)) = split_u16(rest) else {
                return &[];
            };
            &text[..text.len().min(usize::from(text_len))]
        }
        t if t.is_text() => value,
        _ => &[],
    }
}

fn split_u16(b: &[u8]) -> Option<(u16, &[u8])> {
    let (n, rest) = b.split_first_chunk::<2>()?;
    Some((u16::from_be_bytes(*n), rest))
}

/// Declares every operation once: its variant, code and name.
macro_rules! operations {
    ($( $variant:ident = $code:literal, $name:literal; )*) => {
        named_enum! {
            /// An IPP operation, from a request's operation-id (`Other` for codes not listed;
            /// the header keeps the raw code).
            pub enum Operation {
                $( $variant = $name, )*
                Other = "other",
            }
        }

        const OPERATIONS: &[(u16, Operation)] = &[
            $( ($code, Operation::$variant), )*
        ];
    };
}

operations! {
    PrintJob = 0x0002, "Print-Job";
    PrintUri = 0x0003, "Print-URI";
    ValidateJob = 0x0004, "Validate-Job";
    CreateJob = 0x0005, "Create-Job";
    SendDocument = 0x0006, "Send-Document";
    SendUri = 0x0007, "Send-URI";
    CancelJob = 0x0008, "Cancel-Job";
    GetJobAttributes = 0x0009, "Get-Job-Attributes";
    GetJobs = 0x000A, "Get-Jobs";
    GetPrinterAttributes = 0x000B, "Get-Printer-Attributes";
    HoldJob = 0x000C, "Hold-Job";
    ReleaseJob = 0x000D, "Release-Job";
    RestartJob = 0x000E, "Restart-Job";
    PausePrinter = 0x0010, "Pause-Printer";
    ResumePrinter = 0x0011, "Resume-Printer";
    PurgeJobs = 0x0012, "Purge-Jobs";
    SetPrinterAttributes = 0x0013, "Set-Printer-Attributes";
    SetJobAttributes = 0x0014, "Set-Job-Attributes";
    GetPrinterSupportedValues = 0x0015, "Get-Printer-Supported-Values";
    CreatePrinterSubscriptions = 0x0016, "Create-Printer-Subscriptions";
    CreateJobSubscriptions = 0x0017, "Create-Job-Subscriptions";
    GetSubscriptionAttributes = 0x0018, "Get-Subscription-Attributes";
    GetSubscriptions = 0x0019, "Get-Subscriptions";
    RenewSubscription = 0x001A, "Renew-Subscription";
    CancelSubscription = 0x001B, "Cancel-Subscription";
    GetNotifications = 0x001C, "Get-Notifications";
    SendNotifications = 0x001D, "Send-Notifications";
    GetResourceAttributes = 0x001E, "Get-Resource-Attributes";
    GetResourceData = 0x001F, "Get-Resource-Data";
    GetResources = 0x0020, "Get-Resources";
    GetPrinterSupportFiles = 0x0021, "Get-Printer-Support-Files";
    EnablePrinter = 0x0022, "Enable-Printer";
    DisablePrinter = 0x0023, "Disable-Printer";
    PausePrinterAfterCurrentJob = 0x0024, "Pause-Printer-After-Current-Job";
    HoldNewJobs = 0x0025, "Hold-New-Jobs";
    ReleaseHeldNewJobs = 0x0026, "Release-Held-New-Jobs";
    DeactivatePrinter = 0x0027, "Deactivate-Printer";
    ActivatePrinter = 0x0028, "Activate-Printer";
    RestartPrinter = 0x0029, "Restart-Printer";
    ShutdownPrinter = 0x002A, "Shutdown-Printer";
    StartupPrinter = 0x002B, "Startup-Printer";
    ReprocessJob = 0x002C, "Reprocess-Job";
    CancelCurrentJob = 0x002D, "Cancel-Current-Job";
    SuspendCurrentJob = 0x002E, "Suspend-Current-Job";
    ResumeJob = 0x002F, "Resume-Job";
    PromoteJob = 0x0030, "Promote-Job";
    ScheduleJobAfter = 0x0031, "Schedule-Job-After";
    CancelDocument = 0x0033, "Cancel-Document";
    GetDocumentAttributes = 0x0034, "Get-Document-Attributes";
    GetDocuments = 0x0035, "Get-Documents";
    DeleteDocument = 0x0036, "Delete-Document";
    SetDocumentAttributes = 0x0037, "Set-Document-Attributes";
    CancelJobs = 0x0038, "Cancel-Jobs";
    CancelMyJobs = 0x0039, "Cancel-My-Jobs";
    ResubmitJob = 0x003A, "Resubmit-Job";
    CloseJob = 0x003B, "Close-Job";
    IdentifyPrinter = 0x003C, "Identify-Printer";
    ValidateDocument = 0x003D, "Validate-Document";
    AddDocumentImages = 0x003E, "Add-Document-Images";
    AcknowledgeDocument = 0x003F, "Acknowledge-Document";
    AcknowledgeIdentifyPrinter = 0x0040, "Acknowledge-Identify-Printer";
    AcknowledgeJob = 0x0041, "Acknowledge-Job";
    FetchDocument = 0x0042, "Fetch-Document";
    FetchJob = 0x0043, "Fetch-Job";
    GetOutputDeviceAttributes = 0x0044, "Get-Output-Device-Attributes";
    UpdateActiveJobs = 0x0045, "Update-Active-Jobs";
    DeregisterOutputDevice = 0x0046, "Deregister-Output-Device";
    UpdateDocumentStatus = 0x0047, "Update-Document-Status";
    UpdateJobStatus = 0x0048, "Update-Job-Status";
    UpdateOutputDeviceAttributes = 0x0049, "Update-Output-Device-Attributes";
    GetNextDocumentData = 0x004A, "Get-Next-Document-Data";
    AllocatePrinterResources = 0x004B, "Allocate-Printer-Resources";
    CreatePrinter = 0x004C, "Create-Printer";
    DeallocatePrinterResources = 0x004D, "Deallocate-Printer-Resources";
    DeletePrinter = 0x004E, "Delete-Printer";
    GetPrinters = 0x004F, "Get-Printers";
    ShutdownOnePrinter = 0x0050, "Shutdown-One-Printer";
    StartupOnePrinter = 0x0051, "Startup-One-Printer";
    CancelResource = 0x0052, "Cancel-Resource";
    CreateResource = 0x0053, "Create-Resource";
    InstallResource = 0x0054, "Install-Resource";
    SendResourceData = 0x0055, "Send-Resource-Data";
    SetResourceAttributes = 0x0056, "Set-Resource-Attributes";
    CreateResourceSubscriptions = 0x0057, "Create-Resource-Subscriptions";
    CreateSystemSubscriptions = 0x0058, "Create-System-Subscriptions";
    DisableAllPrinters = 0x0059, "Disable-All-Printers";
    EnableAllPrinters = 0x005A, "Enable-All-Printers";
    GetSystemAttributes = 0x005B, "Get-System-Attributes";
    GetSystemSupportedValues = 0x005C, "Get-System-Supported-Values";
    PauseAllPrinters = 0x005D, "Pause-All-Printers";
    PauseAllPrintersAfterCurrentJob = 0x005E, "Pause-All-Printers-After-Current-Job";
    RegisterOutputDevice = 0x005F, "Register-Output-Device";
    RestartSystem = 0x0060, "Restart-System";
    ResumeAllPrinters = 0x0061, "Resume-All-Printers";
    SetSystemAttributes = 0x0062, "Set-System-Attributes";
    ShutdownAllPrinters = 0x0063, "Shutdown-All-Printers";
    StartupAllPrinters = 0x0064, "Startup-All-Printers";
    CupsGetDefault = 0x4001, "CUPS-Get-Default";
    CupsGetPrinters = 0x4002, "CUPS-Get-Printers";
    CupsAddModifyPrinter = 0x4003, "CUPS-Add-Modify-Printer";
    CupsDeletePrinter = 0x4004, "CUPS-Delete-Printer";
    CupsGetClasses = 0x4005, "CUPS-Get-Classes";
    CupsAddModifyClass = 0x4006, "CUPS-Add-Modify-Class";
    CupsDeleteClass = 0x4007, "CUPS-Delete-Class";
    CupsAcceptJobs = 0x4008, "CUPS-Accept-Jobs";
    CupsRejectJobs = 0x4009, "CUPS-Reject-Jobs";
    CupsSetDefault = 0x400A, "CUPS-Set-Default";
    CupsGetDevices = 0x400B, "CUPS-Get-Devices";
    CupsGetPpds = 0x400C, "CUPS-Get-PPDs";
    CupsMoveJob = 0x400D, "CUPS-Move-Job";
    CupsAuthenticateJob = 0x400E, "CUPS-Authenticate-Job";
    CupsGetPpd = 0x400F, "CUPS-Get-PPD";
    CupsGetDocument = 0x4027, "CUPS-Get-Document";
    CupsCreateLocalPrinter = 0x4028, "CUPS-Create-Local-Printer";
}

impl Operation {
    /// The operation an operation-id names; `Other` for codes not in the table.
    pub fn from_code(code: u16) -> Operation {
        OPERATIONS
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(Operation::Other, |(_, op)| *op)
    }

    /// The operation-id; `None` for `Other`.
    pub fn code(self) -> Option<u16> {
        OPERATIONS
            .iter()
            .find(|(_, op)| *op == self)
            .map(|(c, _)| *c)
    }

    /// Operations that change a printer, a queue or the whole service, or act on jobs that are
    /// not necessarily the requester's own: what only an operator or administrator should send.
    /// Submitting, querying and managing one's own jobs (Cancel-My-Jobs among them) is not.
    pub fn is_admin(self) -> bool {
        use Operation::*;
        matches!(
            self,
            PausePrinter
                | ResumePrinter
                | PurgeJobs
                | SetPrinterAttributes
                | EnablePrinter
                | DisablePrinter
                | PausePrinterAfterCurrentJob
                | HoldNewJobs
                | ReleaseHeldNewJobs
                | DeactivatePrinter
                | ActivatePrinter
                | RestartPrinter
                | ShutdownPrinter
                | StartupPrinter
                | CancelCurrentJob
                | CancelJobs
                | CreatePrinter
                | DeletePrinter
                | ShutdownOnePrinter
                | StartupOnePrinter
                | DisableAllPrinters
                | EnableAllPrinters
                | PauseAllPrinters
                | PauseAllPrintersAfterCurrentJob
                | ResumeAllPrinters
                | RestartSystem
                | SetSystemAttributes
                | ShutdownAllPrinters
                | StartupAllPrinters
                | CupsAddModifyPrinter
                | CupsDeletePrinter
                | CupsAddModifyClass
                | CupsDeleteClass
                | CupsAcceptJobs
                | CupsRejectJobs
                | CupsSetDefault
                | CupsMoveJob
                | CupsCreateLocalPrinter
        )
    }
}

/// Status codes and their names.
const STATUSES: &[(u16, &str)] = &[
    (0x0000, "successful-ok"),
    (0x0001, "successful-ok-ignored-or-substituted-attributes"),
    (0x0002, "successful-ok-conflicting-attributes"),
    (0x0003, "successful-ok-ignored-subscriptions"),
    (0x0004, "successful-ok-ignored-notifications"),
    (0x0005, "successful-ok-too-many-events"),
    (0x0006, "successful-ok-but-cancel-subscription"),
    (0x0007, "successful-ok-events-complete"),
    (0x0200, "redirection-other-site"),
    (0x0400, "client-error-bad-request"),
    (0x0401, "client-error-forbidden"),
    (0x0402, "client-error-not-authenticated"),
    (0x0403, "client-error-not-authorized"),
    (0x0404, "client-error-not-possible"),
    (0x0405, "client-error-timeout"),
    (0x0406, "client-error-not-found"),
    (0x0407, "client-error-gone"),
    (0x0408, "client-error-request-entity-too-large"),
    (0x0409, "client-error-request-value-too-long"),
    (0x040A, "client-error-document-format-not-supported"),
    (0x040B, "client-error-attributes-or-values-not-supported"),
    (0x040C, "client-error-uri-scheme-not-supported"),
    (0x040D, "client-error-charset-not-supported"),
    (0x040E, "client-error-conflicting-attributes"),
    (0x040F, "client-error-compression-not-supported"),
    (0x0410, "client-error-compression-error"),
    (0x0411, "client-error-document-format-error"),
    (0x0412, "client-error-document-access-error"),
    (0x0413, "client-error-attributes-not-settable"),
    (0x0414, "client-error-ignored-all-subscriptions"),
    (0x0415, "client-error-too-many-subscriptions"),
    (0x0416, "client-error-ignored-all-notifications"),
    (0x0417, "client-error-print-support-file-not-found"),
    (0x0418, "client-error-document-password-error"),
    (0x0419, "client-error-document-permission-error"),
    (0x041A, "client-error-document-security-error"),
    (0x041B, "client-error-document-unprintable-error"),
    (0x041C, "client-error-account-info-needed"),
    (0x041D, "client-error-account-closed"),
    (0x041E, "client-error-account-limit-reached"),
    (0x041F, "client-error-account-authorization-failed"),
    (0x0420, "client-error-not-fetchable"),
    (0x0500, "server-error-internal-error"),
    (0x0501, "server-error-operation-not-supported"),
    (0x0502, "server-error-service-unavailable"),
    (0x0503, "server-error-version-not-supported"),
    (0x0504, "server-error-device-error"),
    (0x0505, "server-error-temporary-error"),
    (0x0506, "server-error-not-accepting-jobs"),
    (0x0507, "server-error-busy"),
    (0x0508, "server-error-job-canceled"),
    (0x0509, "server-error-multiple-document-jobs-not-supported"),
    (0x050A, "server-error-printer-is-deactivated"),
    (0x050B, "server-error-too-many-jobs"),
    (0x050C, "server-error-too-many-documents"),
];

/// A status-code's name; a code not in the table gives its class ("client-error"...), from the
/// high byte as RFC 8011 Appendix B assigns the ranges, or "unknown".
pub fn status_name(code: u16) -> &'static str {
    if let Some((_, n)) = STATUSES.iter().find(|(c, _)| *c == code) {
        return n;
    }
    match code >> 8 {
        0x00 => "successful",
        0x01 => "informational",
        0x02 => "redirection",
        0x04 => "client-error",
        0x05 => "server-error",
        _ => "unknown",
    }
}

/// True when `first` starts like an IPP message: a version from 1.0 to 2.2 and, when the bytes
/// reach it, a delimiter tag right after the 8-byte header (every message starts a group or ends
/// its attributes there). For telling IPP from the forms and pages also POSTed to port 631.
pub fn looks_like_ipp(first: &[u8]) -> bool {
    let version_ok = matches!(
        first,
        [1, 0, ..] | [1, 1, ..] | [2, 0, ..] | [2, 1, ..] | [2, 2, ..]
    );
    version_ok
        && first
            .get(HEADER_LEN)
            .is_none_or(|&t| (0x01..=0x0F).contains(&t))
}

/// One attribute value as it was on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub tag: ValueTag,
    /// The attribute's name. An additional value (name-length 0 on the wire) is given the name
    /// of the attribute it adds to, so every value can be read on its own; `additional` tells
    /// them apart. Collection members are reported flat the same way: the begCollection value,
    /// then memberAttrName and member values, then endCollection, all additional values of the
    /// collection attribute.
    pub name: &'a [u8],
    pub additional: bool,
    /// At most `MAX_VALUE` bytes of the value (for `Extension`, of what follows its 4-byte tag).
    pub value: &'a [u8],
    /// The value's real length (for `Extension`, without its 4-byte tag).
    pub value_len: u16,
    /// The value was longer than `MAX_VALUE`; `value` holds its start.
    pub cut: bool,
}

/// What the parser found, in message order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IppEvent<'a> {
    Header(Header),
    Group(GroupTag),
    Attribute(Attribute<'a>),
    EndOfAttributes,
    /// Document data after end-of-attributes, straight from the bytes fed.
    Data(&'a [u8]),
    /// The message is not well-formed IPP; the rest of it is ignored.
    Error(IppError),
}

/// Why a message is not well-formed IPP (`name()` is what records carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IppError {
    #[error("the message ended before its end-of-attributes tag")]
    Truncated,
    #[error("delimiter tag 0x00")]
    BadTag,
    #[error("an attribute before any begin-attribute-group tag")]
    NoGroup,
    #[error("an additional value (name-length 0) with no attribute to add to")]
    NoName,
    #[error("an extension (0x7F) value shorter than its 4-byte tag")]
    BadExtension,
}

impl IppError {
    /// Stable machine-readable name for records and counters.
    pub fn name(self) -> &'static str {
        match self {
            IppError::Truncated => "truncated",
            IppError::BadTag => "bad_tag",
            IppError::NoGroup => "no_group",
            IppError::NoName => "no_name",
            IppError::BadExtension => "bad_extension",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the 8-byte header (`have` bytes in `fixed`).
    Header,
    /// Expecting a tag: a delimiter or an attribute's value-tag.
    Tag,
    /// Reading a name-length (`have` bytes in `fixed`).
    NameLen,
    /// This many name bytes still to come.
    Name(u16),
    /// Reading a value-length (`have` bytes in `fixed`).
    ValueLen,
    /// This many value bytes still to come.
    Value(u16),
    /// After end-of-attributes: document data.
    Data,
    /// After an error or `finish`.
    Stopped,
}

/// One IPP message (one HTTP body), parsed as it arrives. Memory is fixed: the current name
/// (`MAX_NAME`) and the kept start of the current value (`MAX_VALUE`); document data is passed
/// through. The version is reported, not judged (see `looks_like_ipp`).
#[derive(Clone, Debug)]
pub struct Parser {
    state: State,
    fixed: [u8; HEADER_LEN],
    have: usize,
    /// The current attribute's value-tag.
    tag: u8,
    /// The name of the attribute additional values add to.
    name: Vec<u8>,
    additional: bool,
    in_group: bool,
    /// An attribute was seen in the current group, so name-length 0 has one to add to.
    has_attr: bool,
    value: Vec<u8>,
    value_len: u16,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            state: State::Header,
            fixed: [0; HEADER_LEN],
            have: 0,
            tag: 0,
            name: Vec::new(),
            additional: false,
            in_group: false,
            has_attr: false,
            value: Vec::new(),
            value_len: 0,
        }
    }

    /// True once end-of-attributes was read: what follows is document data.
    pub fn in_data(&self) -> bool {
        self.state == State::Data
    }

    /// Feeds the next body bytes, cut anywhere; `out` gets what they complete.
    pub fn feed(&mut self, mut data: &[u8], out: &mut impl FnMut(IppEvent<'_>)) {
        while !data.is_empty() {
            let used = match self.state {
                State::Header => {
                    let n = self.fill(data, HEADER_LEN);
                    if self.have == HEADER_LEN {
                        let f = self.fixed;
                        out(IppEvent::Header(Header {
                            version: (f[0], f[1]),
                            code: u16::from_be_bytes([f[2], f[3]]),
                            request_id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                        }));
                        self.state = State::Tag;
                    }
                    n
                }
                State::Tag => {
                    self.tag(data[0], out);
                    1
                }
                State::NameLen => {
                    let n = self.fill(data, 2);
                    if self.have == 2 {
                        self.name_len(u16::from_be_bytes([self.fixed[0], self.fixed[1]]), out);
                    }
                    n
                }
                State::Name(rest) => {
                    let n = data.len().min(usize::from(rest));
                    // a longer name keeps its start: servers read it whole and go on, so the
                    // parser must too (else a long unknown name would hide the document)
                    let keep = n.min(MAX_NAME.saturating_sub(self.name.len()));
                    self.name.extend_from_slice(&data[..keep]);
                    // n <= rest, which is a u16.
                    let left = rest - n as u16;
                    self.state = if left == 0 {
                        self.have = 0;
                        State::ValueLen
                    } else {
                        State::Name(left)
                    };
                    n
                }
                State::ValueLen => {
                    let n = self.fill(data, 2);
                    if self.have == 2 {
                        self.value_len = u16::from_be_bytes([self.fixed[0], self.fixed[1]]);
                        self.value.clear();
                        if self.value_len == 0 {
                            self.attribute(out);
                        } else {
                            self.state = State::Value(self.value_len);
                        }
                    }
                    n
                }
                State::Value(rest) => {
                    let n = data.len().min(usize::from(rest));
                    let keep = n.min(MAX_VALUE - self.value.len().min(MAX_VALUE));
                    self.value.extend_from_slice(&data[..keep]);
                    let left = rest - n as u16;
                    if left == 0 {
                        self.attribute(out);
                    } else {
                        self.state = State::Value(left);
                    }
                    n
                }
                State::Data => {
                    out(IppEvent::Data(data));
                    data.len()
                }
                State::Stopped => return,
            };
            data = &data[used.min(data.len())..];
        }
    }

    /// The message's end: unless end-of-attributes was reached (or an error already said what
    /// was wrong), it was cut short. Later feeds are ignored.
    pub fn finish(&mut self, out: &mut impl FnMut(IppEvent<'_>)) {
        if !matches!(self.state, State::Data | State::Stopped) {
            out(IppEvent::Error(IppError::Truncated));
        }
        self.stop();
    }

    fn stop(&mut self) {
        self.state = State::Stopped;
        self.name = Vec::new();
        self.value = Vec::new();
    }

    fn fail(&mut self, e: IppError, out: &mut impl FnMut(IppEvent<'_>)) {
        out(IppEvent::Error(e));
        self.stop();
    }

    /// Copies bytes of a fixed-size field into `fixed` until it holds `want`; returns how many
    /// of `data` it took.
    fn fill(&mut self, data: &[u8], want: usize) -> usize {
        let n = data.len().min(want.saturating_sub(self.have));
        self.fixed[self.have..self.have + n].copy_from_slice(&data[..n]);
        self.have += n;
        n
    }

    fn tag(&mut self, t: u8, out: &mut impl FnMut(IppEvent<'_>)) {
        if t == 0x03 {
            out(IppEvent::EndOfAttributes);
            self.state = State::Data;
        } else if t == 0x00 {
            self.fail(IppError::BadTag, out);
        } else if let Some(g) = GroupTag::from_code(t) {
            out(IppEvent::Group(g));
            self.in_group = true;
            self.has_attr = false;
        } else if !self.in_group {
            self.fail(IppError::NoGroup, out);
        } else {
            self.tag = t;
            self.have = 0;
            self.state = State::NameLen;
        }
    }

    fn name_len(&mut self, len: u16, out: &mut impl FnMut(IppEvent<'_>)) {
        self.have = 0;
        if len == 0 {
            if !self.has_attr {
                return self.fail(IppError::NoName, out);
            }
            self.additional = true;
            self.state = State::ValueLen;
        } else {
            self.additional = false;
            self.name.clear();
            self.state = State::Name(len);
        }
    }

    /// Reports the attribute value just read and expects the next tag.
    fn attribute(&mut self, out: &mut impl FnMut(IppEvent<'_>)) {
        let (tag, value, value_len) = if self.tag == 0x7F {
            let Some((ext, rest)) = self.value.split_first_chunk::<4>() else {
                return self.fail(IppError::BadExtension, out);
            };
            (
                ValueTag::Extension(u32::from_be_bytes(*ext)),
                rest,
                self.value_len - 4,
            )
        } else {
            (
                ValueTag::from_code(self.tag),
                &self.value[..],
                self.value_len,
            )
        };
        out(IppEvent::Attribute(Attribute {
            tag,
            name: &self.name,
            additional: self.additional,
            value,
            value_len,
            cut: usize::from(self.value_len) > MAX_VALUE,
        }));
        self.has_attr = true;
        self.state = State::Tag;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds an IPP message byte by byte.
    struct Msg(Vec<u8>);

    impl Msg {
        fn new(version: (u8, u8), code: u16, request_id: u32) -> Msg {
            let mut b = vec![version.0, version.1];
            b.extend_from_slice(&code.to_be_bytes());
            b.extend_from_slice(&request_id.to_be_bytes());
            Msg(b)
        }
        fn group(mut self, tag: u8) -> Msg {
            self.0.push(tag);
            self
        }
        fn attr(mut self, tag: u8, name: &[u8], value: &[u8]) -> Msg {
            self.0.push(tag);
            self.0.extend_from_slice(&(name.len() as u16).to_be_bytes());
            self.0.extend_from_slice(name);
            self.0
                .extend_from_slice(&(value.len() as u16).to_be_bytes());
            self.0.extend_from_slice(value);
            self
        }
        /// An additional value of the previous attribute.
        fn more(self, tag: u8, value: &[u8]) -> Msg {
            self.attr(tag, b"", value)
        }
        fn end(self) -> Msg {
            self.group(0x03)
        }
        fn data(mut self, d: &[u8]) -> Msg {
            self.0.extend_from_slice(d);
            self
        }
    }

    /// An event owned, so runs over different splits can be compared.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Ev {
        Header(Header),
        Group(GroupTag),
        Attr {
            tag: ValueTag,
            name: Vec<u8>,
            additional: bool,
            value: Vec<u8>,
            value_len: u16,
            cut: bool,
        },
        End,
        Data(Vec<u8>),
        Err(IppError),
    }

    fn attr(tag: ValueTag, name: &str, value: &[u8]) -> Ev {
        Ev::Attr {
            tag,
            name: name.as_bytes().to_vec(),
            additional: false,
            value: value.to_vec(),
            value_len: value.len() as u16,
            cut: false,
        }
    }

    fn more(tag: ValueTag, name: &str, value: &[u8]) -> Ev {
        match attr(tag, name, value) {
            Ev::Attr {
                tag,
                name,
                value,
                value_len,
                cut,
                ..
            } => Ev::Attr {
                tag,
                name,
                additional: true,
                value,
                value_len,
                cut,
            },
            e => e,
        }
    }

    fn collect(pieces: &[&[u8]]) -> Vec<Ev> {
        let mut p = Parser::new();
        let mut evs: Vec<Ev> = Vec::new();
        let mut on = |e: IppEvent<'_>| match e {
            IppEvent::Header(h) => evs.push(Ev::Header(h)),
            IppEvent::Group(g) => evs.push(Ev::Group(g)),
            IppEvent::Attribute(a) => evs.push(Ev::Attr {
                tag: a.tag,
                name: a.name.to_vec(),
                additional: a.additional,
                value: a.value.to_vec(),
                value_len: a.value_len,
                cut: a.cut,
            }),
            IppEvent::EndOfAttributes => evs.push(Ev::End),
            IppEvent::Data(d) => {
                assert!(!d.is_empty(), "empty data piece");
                if let Some(Ev::Data(last)) = evs.last_mut() {
                    last.extend_from_slice(d);
                } else {
                    evs.push(Ev::Data(d.to_vec()));
                }
            }
            IppEvent::Error(e) => evs.push(Ev::Err(e)),
        };
        for piece in pieces {
            p.feed(piece, &mut on);
        }
        p.finish(&mut on);
        evs
    }

    /// The events of `data` fed whole, after checking that every split point (or a spread of
    /// them for long inputs) and every chunking of 1 to 7 bytes gives the same.
    fn run(data: &[u8]) -> Vec<Ev> {
        let whole = collect(&[data]);
        let step = (data.len() / 300).max(1);
        for at in (0..=data.len()).step_by(step) {
            let (a, b) = data.split_at(at);
            assert_eq!(collect(&[a, b]), whole, "split at {at}");
        }
        for size in 1..=7 {
            let pieces: Vec<&[u8]> = data.chunks(size).collect();
            assert_eq!(collect(&pieces), whole, "chunks of {size}");
        }
        whole
    }

    fn get_printer_attributes() -> Msg {
        Msg::new((1, 1), 0x000B, 1)
            .group(0x01)
            .attr(0x47, b"attributes-charset", b"utf-8")
            .attr(0x48, b"attributes-natural-language", b"en")
            .attr(0x45, b"printer-uri", b"ipp://printer.local:631/ipp/print")
            .attr(0x44, b"requested-attributes", b"printer-name")
            .more(0x44, b"printer-state")
            .end()
    }

    #[test]
    fn get_printer_attributes_request() {
        let evs = run(&get_printer_attributes().0);
        let h = Header {
            version: (1, 1),
            code: 0x000B,
            request_id: 1,
        };
        assert_eq!(h.operation(), Operation::GetPrinterAttributes);
        assert_eq!(
            evs,
            [
                Ev::Header(h),
                Ev::Group(GroupTag::Operation),
                attr(ValueTag::Charset, "attributes-charset", b"utf-8"),
                attr(
                    ValueTag::NaturalLanguage,
                    "attributes-natural-language",
                    b"en"
                ),
                attr(
                    ValueTag::Uri,
                    "printer-uri",
                    b"ipp://printer.local:631/ipp/print"
                ),
                attr(ValueTag::Keyword, "requested-attributes", b"printer-name"),
                more(ValueTag::Keyword, "requested-attributes", b"printer-state"),
                Ev::End,
            ]
        );
    }

    #[test]
    fn get_printer_attributes_response() {
        let info = b"\x00\x02en\x00\x0cOffice laser";
        let msg = Msg::new((2, 0), 0x0000, 1)
            .group(0x01)
            .attr(0x47, b"attributes-charset", b"utf-8")
            .attr(0x48, b"attributes-natural-language", b"en")
            .group(0x04)
            .attr(0x42, b"printer-name", b"office")
            .attr(0x23, b"printer-state", &3u32.to_be_bytes())
            .attr(0x35, b"printer-info", info)
            .attr(0x22, b"printer-is-accepting-jobs", b"\x01")
            .attr(
                0x33,
                b"copies-supported",
                b"\x00\x00\x00\x01\x00\x00\x00\x63",
            )
            .attr(0x13, b"printer-alert", b"")
            .group(0x05)
            .attr(0x10, b"bogus-attribute", b"")
            .end();
        let evs = run(&msg.0);
        let Ev::Header(h) = evs[0] else {
            panic!("{evs:?}")
        };
        assert_eq!(h.status_name(), "successful-ok");
        assert_eq!(
            evs[4..],
            [
                Ev::Group(GroupTag::Printer),
                attr(ValueTag::NameWithoutLanguage, "printer-name", b"office"),
                attr(ValueTag::Enum, "printer-state", b"\x00\x00\x00\x03"),
                attr(ValueTag::TextWithLanguage, "printer-info", info),
                attr(ValueTag::Boolean, "printer-is-accepting-jobs", b"\x01"),
                attr(
                    ValueTag::RangeOfInteger,
                    "copies-supported",
                    b"\x00\x00\x00\x01\x00\x00\x00\x63"
                ),
                attr(ValueTag::NoValue, "printer-alert", b""),
                Ev::Group(GroupTag::Unsupported),
                attr(ValueTag::Unsupported, "bogus-attribute", b""),
                Ev::End,
            ]
        );
        assert_eq!(
            text_value(ValueTag::TextWithLanguage, info),
            b"Office laser"
        );
    }

    #[test]
    fn print_job_with_document_data() {
        let doc =
            b"%!PS-Adobe-3.0\n%%Title: x\n/Helvetica findfont 12 scalefont setfont\nshowpage\n";
        let msg = Msg::new((2, 0), 0x0002, 7)
            .group(0x01)
            .attr(0x47, b"attributes-charset", b"utf-8")
            .attr(0x48, b"attributes-natural-language", b"en")
            .attr(0x45, b"printer-uri", b"ipp://p/ipp/print")
            .attr(0x42, b"requesting-user-name", b"alice")
            .attr(0x42, b"job-name", b"report")
            .attr(0x49, b"document-format", b"application/postscript")
            .group(0x02)
            .attr(0x21, b"copies", &2u32.to_be_bytes())
            .end()
            .data(doc);
        let evs = run(&msg.0);
        assert_eq!(
            evs[0],
            Ev::Header(Header {
                version: (2, 0),
                code: 2,
                request_id: 7
            })
        );
        assert_eq!(
            evs[evs.len() - 3..],
            [
                attr(ValueTag::Integer, "copies", b"\x00\x00\x00\x02"),
                Ev::End,
                Ev::Data(doc.to_vec())
            ]
        );
        // A message whose attributes ended is complete however much data follows.
        assert!(!evs.iter().any(|e| matches!(e, Ev::Err(_))));
    }

    #[test]
    fn data_is_zero_copy() {
        let msg = Msg::new((2, 0), 2, 1).group(1).end().data(b"PDFDATA").0;
        let range = msg.as_ptr_range();
        let mut p = Parser::new();
        let mut seen = 0;
        p.feed(&msg, &mut |e| {
            if let IppEvent::Data(d) = e {
                assert!(range.contains(&d.as_ptr()));
                seen += d.len();
            }
        });
        assert_eq!(seen, 7);
        assert!(p.in_data());
    }

    #[test]
    fn collections_are_flat_additional_values() {
        let msg = Msg::new((2, 0), 2, 1)
            .group(0x02)
            .attr(0x34, b"media-col", b"")
            .more(0x4A, b"media-size")
            .more(0x34, b"")
            .more(0x4A, b"x-dimension")
            .more(0x21, &21000u32.to_be_bytes())
            .more(0x37, b"")
            .more(0x37, b"")
            .end();
        let evs = run(&msg.0);
        assert_eq!(evs[2], attr(ValueTag::BegCollection, "media-col", b""));
        assert_eq!(
            evs[3],
            more(ValueTag::MemberAttrName, "media-col", b"media-size")
        );
        assert_eq!(evs[8], more(ValueTag::EndCollection, "media-col", b""));
        assert_eq!(evs[9], Ev::End);
    }

    #[test]
    fn long_values_are_cut_and_counted() {
        let big = vec![b'x'; 5000];
        let msg = Msg::new((2, 0), 2, 1)
            .group(1)
            .attr(0x30, b"blob", &big)
            .attr(0x41, b"after", b"ok")
            .end();
        let evs = run(&msg.0);
        assert_eq!(
            evs[2],
            Ev::Attr {
                tag: ValueTag::OctetString,
                name: b"blob".to_vec(),
                additional: false,
                value: big[..MAX_VALUE].to_vec(),
                value_len: 5000,
                cut: true,
            }
        );
        assert_eq!(evs[3], attr(ValueTag::TextWithoutLanguage, "after", b"ok"));
        // Exactly MAX_VALUE is kept whole.
        let msg = Msg::new((2, 0), 2, 1)
            .group(1)
            .attr(0x30, b"b", &big[..MAX_VALUE])
            .end();
        assert!(
            matches!(&run(&msg.0)[2], Ev::Attr { cut: false, value, .. } if value.len() == MAX_VALUE)
        );
    }

    #[test]
    fn extension_tags() {
        let msg = Msg::new((2, 0), 2, 1)
            .group(1)
            .attr(0x7F, b"vendor-thing", b"\x00\x00\x12\x34ab")
            .end();
        let evs = run(&msg.0);
        assert_eq!(
            evs[2],
            Ev::Attr {
                tag: ValueTag::Extension(0x1234),
                name: b"vendor-thing".to_vec(),
                additional: false,
                value: b"ab".to_vec(),
                value_len: 2,
                cut: false,
            }
        );
        let short = Msg::new((2, 0), 2, 1)
            .group(1)
            .attr(0x7F, b"v", b"\x00\x00\x12")
            .end();
        assert_eq!(run(&short.0).last(), Some(&Ev::Err(IppError::BadExtension)));
    }

    #[test]
    fn malformed_messages() {
        let base = || Msg::new((2, 0), 2, 1);
        let cases = [
            (base().group(0x00).0, IppError::BadTag),
            (base().attr(0x44, b"x", b"y").0, IppError::NoGroup),
            (base().group(1).more(0x44, b"y").0, IppError::NoName),
            // A new group has no attribute to add to either.
            (
                base()
                    .group(1)
                    .attr(0x44, b"a", b"b")
                    .group(2)
                    .more(0x44, b"c")
                    .0,
                IppError::NoName,
            ),
        ];
        for (bytes, want) in cases {
            let evs = run(&bytes);
            assert_eq!(evs.last(), Some(&Ev::Err(want)), "{evs:?}");
            assert_eq!(evs.iter().filter(|e| matches!(e, Ev::Err(_))).count(), 1);
        }
        // After an error the rest of the message is ignored.
        let mut bytes = base().group(0x00).0;
        bytes.extend_from_slice(&get_printer_attributes().0);
        assert_eq!(run(&bytes).len(), 2);
        // A longer name keeps its start and the message goes on to its document.
        let long = base()
            .group(1)
            .attr(0x44, &[b'n'; 300], b"v")
            .end()
            .data(b"%!PS");
        let evs = run(&long.0);
        assert!(
            evs.iter().any(|e| matches!(e, Ev::Data(d) if d == b"%!PS")),
            "{evs:?}"
        );
        assert!(!evs.iter().any(|e| matches!(e, Ev::Err(_))), "{evs:?}");
        // A name of exactly MAX_NAME is fine; reserved delimiters are groups.
        let ok = base().group(0x0B).attr(0x44, &[b'n'; MAX_NAME], b"v").end();
        let evs = run(&ok.0);
        assert_eq!(evs[1], Ev::Group(GroupTag::Reserved(0x0B)));
        assert_eq!(evs.last(), Some(&Ev::End));
    }

    #[test]
    fn truncated_messages() {
        let full = get_printer_attributes().0;
        for at in 0..full.len() {
            let evs = run(&full[..at]);
            assert_eq!(
                evs.last(),
                Some(&Ev::Err(IppError::Truncated)),
                "cut at {at}"
            );
            assert_eq!(evs.iter().filter(|e| matches!(e, Ev::Err(_))).count(), 1);
        }
        assert_eq!(run(&full).last(), Some(&Ev::End));
    }

    #[test]
    fn unassigned_value_tags_are_kept() {
        let msg = Msg::new((2, 0), 2, 1)
            .group(1)
            .attr(0x43, b"a", b"b")
            .attr(0x99, b"c", b"d")
            .end();
        let evs = run(&msg.0);
        assert_eq!(evs[2], attr(ValueTag::Other(0x43), "a", b"b"));
        assert_eq!(evs[3], attr(ValueTag::Other(0x99), "c", b"d"));
        assert_eq!(ValueTag::Other(0x43).name(), "unassigned");
    }

    #[test]
    fn operation_table() {
        let mut codes = std::collections::HashSet::new();
        for &(code, op) in OPERATIONS {
            assert!(codes.insert(code), "code {code:#06x} twice");
            assert_eq!(Operation::from_code(code), op);
            assert_eq!(op.code(), Some(code));
            assert_eq!(Operation::from_name(op.name()), Some(op));
        }
        assert_eq!(OPERATIONS.len() + 1, Operation::ALL.len());
        assert_eq!(Operation::from_code(0x0001), Operation::Other);
        assert_eq!(Operation::from_code(0x4010), Operation::Other);
        assert_eq!(Operation::Other.code(), None);
        assert_eq!(Operation::from_code(0x0002).name(), "Print-Job");
        assert_eq!(Operation::from_code(0x003C).name(), "Identify-Printer");
        assert_eq!(
            Operation::from_code(0x4028).name(),
            "CUPS-Create-Local-Printer"
        );
        assert_eq!(Operation::from_code(0x4027), Operation::CupsGetDocument);
        for admin in [
            0x0010, 0x0012, 0x0013, 0x0022, 0x002B, 0x0038, 0x4003, 0x4004, 0x400A, 0x400D,
        ] {
            assert!(Operation::from_code(admin).is_admin(), "{admin:#06x}");
        }
        for user in [
            0x0002, 0x0005, 0x0008, 0x000A, 0x000B, 0x0039, 0x003B, 0x4001, 0x4002, 0x400E,
        ] {
            assert!(!Operation::from_code(user).is_admin(), "{user:#06x}");
        }
        assert!(!Operation::Other.is_admin());
    }

    #[test]
    fn status_names() {
        assert_eq!(status_name(0x0000), "successful-ok");
        assert_eq!(
            status_name(0x0001),
            "successful-ok-ignored-or-substituted-attributes"
        );
        assert_eq!(status_name(0x0404), "client-error-not-possible");
        assert_eq!(status_name(0x0402), "client-error-not-authenticated");
        assert_eq!(status_name(0x0500), "server-error-internal-error");
        assert_eq!(status_name(0x04FF), "client-error");
        assert_eq!(status_name(0x05AA), "server-error");
        assert_eq!(status_name(0x0042), "successful");
        assert_eq!(status_name(0x0300), "unknown");
        assert_eq!(status_name(0xFFFF), "unknown");
    }

    #[test]
    fn value_tag_table() {
        let mut names = std::collections::HashSet::new();
        for &(code, tag, name) in VALUE_TAGS {
            assert_eq!(ValueTag::from_code(code), tag);
            assert_eq!(tag.code(), code);
            assert_eq!(tag.name(), name);
            assert!(names.insert(name));
        }
        assert_eq!(ValueTag::from_code(0x44).name(), "keyword");
        assert_eq!(ValueTag::from_code(0x41).name(), "textWithoutLanguage");
        assert_eq!(ValueTag::from_code(0x7F), ValueTag::Extension(0));
        assert_eq!(ValueTag::Extension(7).code(), 0x7F);
        assert!(ValueTag::Keyword.is_text() && ValueTag::NameWithLanguage.is_text());
        assert!(!ValueTag::Integer.is_text() && !ValueTag::OctetString.is_text());
        assert!(ValueTag::NoValue.is_out_of_band() && !ValueTag::Keyword.is_out_of_band());
        for g in 0..=0xFFu8 {
            if let Some(t) = GroupTag::from_code(g) {
                assert_eq!(t.code(), g);
            }
        }
        assert_eq!(GroupTag::from_code(0x03), None);
        assert_eq!(GroupTag::Job.name(), "job-attributes-tag");
    }

    #[test]
    fn text_values() {
        let v = b"\x00\x05en-us\x00\x05hello";
        assert_eq!(text_value(ValueTag::NameWithLanguage, v), b"hello");
        // Cut after the first text bytes: what was kept.
        assert_eq!(text_value(ValueTag::TextWithLanguage, &v[..11]), b"he");
        // A text length beyond the value, or a language beyond it.
        assert_eq!(
            text_value(ValueTag::TextWithLanguage, b"\x00\x02en\xff\xffab"),
            b"ab"
        );
        assert_eq!(text_value(ValueTag::TextWithLanguage, b"\x00\x09en"), b"");
        assert_eq!(text_value(ValueTag::TextWithLanguage, b"\x00"), b"");
        assert_eq!(text_value(ValueTag::Keyword, b"one-sided"), b"one-sided");
        assert_eq!(text_value(ValueTag::Integer, b"\x00\x00\x00\x01"), b"");
    }

    #[test]
    fn looks_like_ipp_versions() {
        assert!(looks_like_ipp(&get_printer_attributes().0));
        assert!(looks_like_ipp(b"\x02\x02"));
        assert!(looks_like_ipp(b"\x01\x00\x00\x02\x00\x00\x00\x01"));
        assert!(!looks_like_ipp(b"\x02\x03\x00\x02\x00\x00\x00\x01\x01"));
        assert!(!looks_like_ipp(b"\x00\x01"));
        assert!(!looks_like_ipp(b"\x02"));
        assert!(!looks_like_ipp(b"op=add-printer&printer_name=x"));
        assert!(!looks_like_ipp(b"\x02\x00\x00\x02\x00\x00\x00\x01\x44"));
    }

    #[test]
    fn error_names_are_distinct() {
        let all = [
            IppError::Truncated,
            IppError::BadTag,
            IppError::NoGroup,
            IppError::NoName,
            IppError::BadExtension,
        ];
        let names: std::collections::HashSet<_> = all.iter().map(|e| e.name()).collect();
        assert_eq!(names.len(), all.len());
    }

    /// A fixed-seed xorshift64: reproducible "random" bytes without a dependency.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn random_bytes_never_panic_and_never_grow() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let start = get_printer_attributes().0;
        for round in 0..2000 {
            let len = (xorshift(&mut s) % 400) as usize;
            // Half the rounds start valid, so the attribute states see random bytes too.
            let mut data = if round % 2 == 0 {
                start[..HEADER_LEN + 1].to_vec()
            } else {
                Vec::new()
            };
            for _ in 0..len {
                let r = xorshift(&mut s);
                // Small lengths and real tags now and then, so parsing gets somewhere.
                data.push(match r % 6 {
                    0 => 0,
                    1 => (r >> 8) as u8 % 8,
                    2 => [0x01, 0x03, 0x44, 0x7F, 0x34, 0x37][(r >> 8) as usize % 6],
                    _ => (r >> 16) as u8,
                });
            }
            let split = (xorshift(&mut s) as usize) % (data.len() + 1);
            let mut p = Parser::new();
            let mut data_len = 0;
            let mut errors = 0;
            let mut on = |e: IppEvent<'_>| match e {
                IppEvent::Data(d) => data_len += d.len(),
                IppEvent::Attribute(a) => {
                    assert!(a.value.len() <= MAX_VALUE && a.name.len() <= MAX_NAME);
                    assert!(a.value.len() <= usize::from(a.value_len));
                }
                IppEvent::Error(_) => errors += 1,
                _ => {}
            };
            p.feed(&data[..split], &mut on);
            p.feed(&data[split..], &mut on);
            p.finish(&mut on);
            assert!(data_len <= data.len());
            assert!(errors <= 1);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// However a Print-Job is cut, the attributes are the same and the document data handed
        /// out is the document sent.
        #[test]
        fn any_split_gives_the_same_data_bytes(
            doc in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            name in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            cuts in proptest::collection::vec(0usize..4000, 0..12),
        ) {
            let msg = Msg::new((2, 0), 2, 9)
                .group(1)
                .attr(0x42, b"job-name", &name)
                .attr(0x30, b"blob", &doc)
                .end()
                .data(&doc)
                .0;
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (msg.len() + 1)).collect();
            points.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for p in points.into_iter().chain([msg.len()]) {
                pieces.push(&msg[at..p]);
                at = p;
            }
            let split = collect(&pieces);
            proptest::prop_assert_eq!(&split, &collect(&[&msg]));
            let want = if doc.is_empty() { Ev::End } else { Ev::Data(doc.clone()) };
            proptest::prop_assert_eq!(split.last(), Some(&want));
        }
    }
}
