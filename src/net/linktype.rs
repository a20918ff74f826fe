//! DLT / LINKTYPE numbers of the link layers bjnp-watch decodes (tcpdump.org/linktypes.html).
//! Capture sources report them, the BPF compiler wants them, the decoder dispatches on them.

pub const NULL: u32 = 0;
pub const ETHERNET: u32 = 1;
/// DLT_RAW as OpenBSD numbers it; other systems map it to LINKTYPE_RAW in files.
pub const RAW_OPENBSD: u32 = 14;
pub const RAW_BSD: u32 = 12;
pub const RAW: u32 = 101;
pub const LOOP: u32 = 108;
pub const LINUX_SLL: u32 = 113;
pub const IPV4: u32 = 228;
pub const IPV6: u32 = 229;
pub const LINUX_SLL2: u32 = 276;
