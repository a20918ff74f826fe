//! The IANA registry's names of IPP: group tags, value tags (with what each syntax is),
//! operations and status codes. Tables only; the parser reads them.

use crate::net::named_enum;

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

        pub(super) const VALUE_TAGS: &[(u8, ValueTag, &str)] = &[
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

        pub(super) const OPERATIONS: &[(u16, Operation)] = &[
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
