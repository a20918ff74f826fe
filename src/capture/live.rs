//! Live capture through libpcap: promiscuous by default, kernel BPF, packets handed over in
//! batches (`pcap_dispatch`) so a busy link costs one system call per buffer, not per packet.
//!
//! The handle is non-blocking and waited on with `poll` and a timeout. A blocking read on
//! Linux (TPACKET_V3) does not return while no packet arrives at all, and the capture loop must
//! run on a silent link too: flow timeouts, stats records, the silence warning, stop requests.

use super::CaptureError;
use super::Frame;
use crate::net::Timestamp;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub iface: String,
    pub promisc: bool,
    pub snaplen: i32,
    /// Kernel ring buffer in bytes: a burst the engine cannot absorb at once waits here.
    pub buffer_size: i32,
    /// BPF expression; `None` selects the default for `ports` and the interface's link type.
    pub filter: Option<String>,
    pub ports: crate::net::PortSet,
    /// How long a read waits for more packets before handing over what it has; also how quickly
    /// a quiet capture notices a stop request.
    pub timeout_ms: i32,
}

pub struct Live {
    cap: pcap::Capture<pcap::Active>,
    linktype: u32,
    iface: String,
    timeout_ms: u16,
    /// The user gave `-f`: a policy reload leaves the filter alone.
    user_filter: bool,
}

/// Interfaces libpcap can open: (name, description, up).
pub fn list_interfaces() -> Result<Vec<(String, String, bool)>, CaptureError> {
    let devs = pcap::Device::list().map_err(|e| CaptureError::Live {
        iface: "*".into(),
        msg: e.to_string(),
    })?;
    Ok(devs
        .into_iter()
        .map(|d| {
            let up = d.flags.is_up();
            (d.name, d.desc.unwrap_or_default(), up)
        })
        .collect())
}

impl Live {
    pub fn open(o: &LiveOptions) -> Result<Live, CaptureError> {
        let iface = o.iface.clone();
        let known = list_interfaces()
            .map(|l| l.iter().any(|(n, _, _)| *n == iface))
            .unwrap_or(true);
        if !known {
            return Err(CaptureError::NoSuchInterface { iface });
        }
        let classify = |e: pcap::Error| -> CaptureError {
            let msg = e.to_string();
            let lower = msg.to_ascii_lowercase();
            if lower.contains("permission") || lower.contains("not permitted") {
                CaptureError::Permission {
                    iface: iface.clone(),
                }
            } else if lower.contains("no such device") || lower.contains("doesn't exist") {
                CaptureError::NoSuchInterface {
                    iface: iface.clone(),
                }
            } else {
                CaptureError::Live {
                    iface: iface.clone(),
                    msg,
                }
            }
        };
        let mut cap = pcap::Capture::from_device(o.iface.as_str())
            .map_err(classify)?
            .promisc(o.promisc)
            .snaplen(o.snaplen)
            .buffer_size(o.buffer_size)
            .timeout(o.timeout_ms)
            .open()
            .map_err(classify)?
            .setnonblock()
            .map_err(classify)?;
        let linktype = cap.get_datalink().0 as u32;
        let expr = o
            .filter
            .clone()
            .unwrap_or_else(|| super::filter::default_expression(&o.ports, linktype));
        cap.filter(&expr, true)
            .map_err(|e| CaptureError::BadFilter {
                expr,
                msg: e.to_string(),
            })?;
        Ok(Live {
            cap,
            linktype,
            iface: o.iface.clone(),
            timeout_ms: u16::try_from(o.timeout_ms).unwrap_or(200),
            user_filter: o.filter.is_some(),
        })
    }

    /// The monitored ports changed (a policy reload): the kernel filter follows them (true),
    /// unless the user gave one of their own with `-f` (false: it stays).
    pub fn set_ports(&mut self, ports: &crate::net::PortSet) -> Result<bool, CaptureError> {
        if self.user_filter {
            return Ok(false);
        }
        let expr = super::filter::default_expression(ports, self.linktype);
        self.cap
            .filter(&expr, true)
            .map(|()| true)
            .map_err(|e| CaptureError::BadFilter {
                expr,
                msg: e.to_string(),
            })
    }

    /// `n` sockets on one interface; with more than one they share its packets in a fanout
    /// group of this process.
    pub fn open_group(o: &LiveOptions, n: usize) -> Result<Vec<Live>, CaptureError> {
        let sockets = (0..n.max(1))
            .map(|_| Live::open(o))
            .collect::<Result<Vec<_>, _>>()?;
        if sockets.len() > 1 {
            let group = (std::process::id() & 0xffff) as u16;
            for s in &sockets {
                s.join_fanout(group)?;
            }
        }
        Ok(sockets)
    }

    /// Joins the kernel's fanout group `group` on this socket's interface (PACKET_FANOUT_HASH):
    /// the sockets of one group share the packets, each flow to one socket by the kernel's
    /// symmetric flow hash (both directions alike). Fragments are not reassembled first, so
    /// the fragments of a datagram hash by their addresses alone.
    // One of the crate's two unsafe blocks (the lint table denies the rest): a setsockopt nix
    // does not wrap.
    #[allow(unsafe_code)]
    pub fn join_fanout(&self, group: u16) -> Result<(), CaptureError> {
        use std::os::fd::AsRawFd;
        const SOL_PACKET: libc::c_int = 263;
        const PACKET_FANOUT: libc::c_int = 18;
        const PACKET_FANOUT_HASH: u32 = 0;
        let val: u32 = u32::from(group) | (PACKET_FANOUT_HASH << 16);
        // SAFETY: a valid descriptor owned by `self.cap`, and a pointer to 4 bytes that live
        // for the call.
        let rc = unsafe {
            libc::setsockopt(
                self.cap.as_raw_fd(),
                SOL_PACKET,
                PACKET_FANOUT,
                (&val as *const u32).cast(),
                std::mem::size_of::<u32>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(CaptureError::Live {
                iface: self.iface.clone(),
                msg: format!(
                    "cannot join packet fanout group {group}: {}",
                    std::io::Error::last_os_error()
                ),
            })
        }
    }

    /// The interface captured.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Waits up to `timeout_ms` for packets. True when the handle is readable.
    // The other unsafe block: libpcap's descriptor borrowed for poll(2).
    #[allow(unsafe_code)]
    pub fn wait(&self, timeout_ms: u16) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::{AsRawFd, BorrowedFd};
        // SAFETY: the descriptor belongs to `self.cap`, which outlives this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(self.cap.as_raw_fd()) };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        matches!(poll(&mut fds, PollTimeout::from(timeout_ms)), Ok(n) if n > 0)
    }

    /// Reads one batch (up to one kernel buffer, or until the timeout). Returns the number of
    /// packets handed to `on`; 0 on a timeout or after a stop request.
    pub fn dispatch(
        &mut self,
        stop: &AtomicBool,
        on: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, CaptureError> {
        let linktype = self.linktype;
        let r = self.cap.dispatch(None, |pkt| {
            let ts = Timestamp::from_micros(
                u64::try_from(pkt.header.ts.tv_sec).unwrap_or(0),
                u64::try_from(pkt.header.ts.tv_usec).unwrap_or(0),
            );
            on(&Frame {
                ts,
                linktype,
                data: pkt.data,
                orig_len: pkt.header.len,
                cnt: 0,
            });
        });
        match r {
            Ok(n) => Ok(n),
            Err(pcap::Error::TimeoutExpired) => Ok(0),
            // pcap_breakloop makes the read fail with PCAP_ERROR_BREAK.
            Err(_) if stop.load(Ordering::Relaxed) => Ok(0),
            Err(e) => Err(CaptureError::Live {
                iface: self.iface.clone(),
                msg: e.to_string(),
            }),
        }
    }

    /// After a stop: hands over what is still in the kernel ring (packets that arrived before
    /// the signal are "in flight" and must be written). Bounded, so a flood cannot keep a
    /// stopping monitor alive.
    pub fn drain(&mut self, on: &mut dyn FnMut(&Frame<'_>)) -> u64 {
        let never = AtomicBool::new(true);
        let mut total = 0;
        // Packets in a block the kernel has not yet retired show up within the block timeout.
        for _ in 0..64 {
            if !self.wait(self.timeout_ms) {
                break;
            }
            match self.dispatch(&never, on) {
                Ok(n) => total += n as u64,
                Err(_) => break,
            }
        }
        total
    }

    /// libpcap's counters.
    pub fn stats(&mut self) -> Option<crate::capture::PcapCounters> {
        self.cap.stats().ok().map(|s| crate::capture::PcapCounters {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
    }
}
