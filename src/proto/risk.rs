//! Risk classes found in print streams.

/// What a print stream can do to a printer: the PJL classes of docs/PROTOCOLS.md §6.3, the
/// PostScript constructs of §6.4 and the PCL ones of §6.5. Each maps to one alert rule (`detect::rules::Rule::Print`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Risk {
    FsRead,
    FsWrite,
    FsDelete,
    FsFormat,
    FsEnum,
    PathTraversal,
    LockChange,
    /// One `JOB PASSWORD=` guess; many in one connection are a brute force.
    PinGuess,
    LockProbe,
    ServiceMode,
    /// One `DEFAULT` (an NVRAM write); hundreds in one connection wear NVRAM out.
    NvramWrite,
    Counter,
    PrintingDisabled,
    JobRetention,
    DisplayMessage,
    OfflineDos,
    DeviceManagement,
    DeviceInfo,
    FactoryReset,
    RawNvram,
    TestPage,
    Oversized,
    Recon,
    ToolFingerprint,
    /// Not a command: a large volume of data the printer sent back (FSUPLOAD exfiltration).
    Exfiltration,
    // PostScript (§6.4)
    PsExitServer,
    PsSuperexec,
    PsPasswordParams,
    PsFactoryDefaults,
    PsPasswordCheck,
    PsFileWrite,
    PsFsEnum,
    PsJobCapture,
    PsShowpageRedef,
    PsInfiniteLoop,
    PsInterpreter,
    PsFingerprint,
    PsRecon,
    // PCL (§6.5)
    PclPermanentMacro,
    PclEcho,
    PclRecon,
    // Canon BJL in BJNP print data (§6.6)
    BjlPowerOff,
    BjlCounterReset,
    BjlInkDetection,
    BjlCleaning,
}
