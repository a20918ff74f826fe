//! Raw printing (TCP 9100-9102): both directions reassembled; the client's stream is print
//! data (`PrintStream`), the printer's side is counted for the volume rules. Memory per flow is
//! fixed: the reassemblers' caps and the print stream's.

use super::print_stream::PrintStream;
use super::streams::{overlap_conflict, Streams};
use super::{Analyzer, AppEvent, PacketCx, Shared};
use crate::decode::Tcp;
use crate::event::AppProto;
use crate::flow::stream::Delivery;
use crate::flow::Dir;
use crate::proto::pdl::Language;

#[derive(Default)]
pub struct RawFlow {
    streams: Streams,
    print: PrintStream,
    /// Printer-to-client stream bytes in this connection.
    toclient_total: u64,
}

impl Analyzer for RawFlow {
    fn on_packet(&mut self, _: &mut Shared, cx: &PacketCx<'_, '_>, out: &mut Vec<AppEvent>) {
        self.on_segment(cx.dir, cx.p.tcp, cx.p.payload, out);
    }

    fn on_end(&mut self, _: &mut Shared, out: &mut Vec<AppEvent>) {
        self.finish(out);
    }
}

impl RawFlow {
    /// The language of the job in progress, for the flow's `app_proto`.
    pub fn language(&self) -> Option<Language> {
        self.print.language()
    }

    /// Starts from the ISNs seen before the first payload.
    pub fn with_isns(isns: [Option<u32>; 2]) -> Self {
        RawFlow {
            streams: Streams::with_isns(isns),
            ..RawFlow::default()
        }
    }

    pub fn gaps(&self) -> u64 {
        self.streams.gaps()
    }

    pub fn on_segment(&mut self, dir: Dir, tcp: Tcp, payload: &[u8], out: &mut Vec<AppEvent>) {
        let (print, total) = (&mut self.print, &mut self.toclient_total);
        let conflict = self.streams.segment(dir, tcp, payload, &mut |d| {
            deliver(print, total, dir, d, out)
        });
        if let Some(at) = conflict {
            let layer = self.language().map(AppProto::Print);
            out.push(AppEvent::Anomaly(overlap_conflict(at, layer)));
        }
    }

    /// The connection is over: flush what waits behind holes and write the last job.
    pub fn finish(&mut self, out: &mut Vec<AppEvent>) {
        let (print, total) = (&mut self.print, &mut self.toclient_total);
        self.streams
            .finish(&mut |dir, d| deliver(print, total, dir, d, out));
        self.print.finish(out);
    }
}

fn deliver(
    print: &mut PrintStream,
    toclient_total: &mut u64,
    dir: Dir,
    d: Delivery<'_>,
    out: &mut Vec<AppEvent>,
) {
    match (dir, d) {
        (Dir::ToClient, Delivery::Data(b)) => {
            // What the printer sends back: status readback, or uploaded files.
            let n = b.len() as u64;
            print.printer_bytes(n);
            *toclient_total += n;
            out.push(AppEvent::PrinterData {
                total: *toclient_total,
            });
        }
        // a gap says nothing about volume (one stray segment can claim 2 GB): not counted
        (Dir::ToClient, Delivery::Gap(_)) => {}
        (Dir::ToServer, Delivery::Data(b)) => print.data(b, out),
        (Dir::ToServer, Delivery::Gap(n)) => print.gap(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Finding;
    use crate::event::{Anomaly, AnomalyEvent};
    use crate::proto::pjl::Risk;

    fn feed(chunks: &[&[u8]]) -> (Vec<Finding>, Vec<crate::event::Print>) {
        let (f, p, _) = feed_all(chunks);
        (f, p)
    }

    /// The same, with the anomalies.
    fn feed_all(chunks: &[&[u8]]) -> (Vec<Finding>, Vec<crate::event::Print>, Vec<Anomaly>) {
        let mut f = RawFlow::default();
        let mut outs = vec![];
        let mut seq = 1000u32;
        f.on_segment(
            Dir::ToServer,
            Tcp {
                seq: seq - 1,
                ack: 0,
                flags: Tcp::SYN,
            },
            &[],
            &mut outs,
        );
        for c in chunks {
            f.on_segment(
                Dir::ToServer,
                Tcp {
                    seq,
                    ack: 0,
                    flags: Tcp::ACK,
                },
                c,
                &mut outs,
            );
            seq = seq.wrapping_add(c.len() as u32);
        }
        f.finish(&mut outs);
        let mut finds = vec![];
        let mut prints = vec![];
        let mut anomalies = vec![];
        for o in outs {
            match o {
                AppEvent::Finding(x) => finds.push(x),
                AppEvent::Print(p) => prints.push(*p),
                AppEvent::Anomaly(a) => anomalies.push(a),
                _ => {}
            }
        }
        (finds, prints, anomalies)
    }

    #[test]
    fn pjl_lines_inside_page_data_are_an_anomaly_not_a_command() {
        let job = b"\x1b%-12345X@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%!PS\n(hi) show\n@PJL FSDELETE NAME=\"0:\\x\"\r\nshowpage\n";
        // whole, and split at every byte
        for cut in 0..job.len() {
            let (finds, _, anomalies) = feed_all(&[&job[..cut], &job[cut..]]);
            assert!(
                finds.iter().all(|f| f.risk != Risk::FsDelete),
                "cut {cut}: not run as a PJL command"
            );
            assert_eq!(anomalies.len(), 1, "cut {cut}");
            let a = &anomalies[0];
            assert_eq!(a.event, AnomalyEvent::PjlInPrintData);
            assert_eq!(a.layer, Some(AppProto::Print(Language::PostScript)));
            let reason = a.reason.as_deref().unwrap();
            assert!(reason.starts_with("@PJL FSDELETE NAME="), "{reason}");
        }
        // the first four are reported, the rest not; a line merely containing @PJL is data
        let mut many = b"%!PS\n".to_vec();
        for _ in 0..10 {
            many.extend_from_slice(b"@PJL INFO ID\n");
        }
        many.extend_from_slice(b"(x @PJL INFO ID) show\n@PJLX\n");
        let (_, _, anomalies) = feed_all(&[&many]);
        assert_eq!(anomalies.len(), 4);
    }

    #[test]
    fn a_megabyte_line_is_one_finding_and_bounded_memory() {
        let mut line = b"@PJL SET X=".to_vec();
        line.extend(vec![b'A'; 1 << 20]);
        line.extend(b"\r\n@PJL FSDELETE NAME=\"0:/a\"\r\n");
        let chunks: Vec<&[u8]> = line.chunks(1460).collect();
        let (finds, prints) = feed(&chunks);
        let risks: Vec<Risk> = finds.iter().map(|f| f.risk).collect();
        assert_eq!(
            risks,
            [Risk::Oversized, Risk::FsDelete],
            "parsing resumes after the long line"
        );
        assert!(finds[0].line.len() <= 256);
        assert_eq!(prints.len(), 1);
        assert_eq!(prints[0].bytes_toserver, line.len() as u64);
    }

    #[test]
    fn zero_filled_data_then_postscript_is_still_scanned() {
        // page data of NULs gets no scanner until something else comes; what comes is judged
        let mut job = vec![0u8; 20_000];
        job.extend_from_slice(b"serverdict begin 0 exitserver\n");
        job.extend(vec![0u8; 3_000]);
        job.extend_from_slice(b"/x (w) file\n");
        for size in [1, 7, 1460, 65_536] {
            let chunks: Vec<&[u8]> = job.chunks(size).collect();
            let (finds, prints) = feed(&chunks);
            let risks: Vec<Risk> = finds.iter().map(|f| f.risk).collect();
            assert_eq!(
                risks,
                [Risk::PsExitServer, Risk::PsFileWrite],
                "segments of {size}"
            );
            assert_eq!(prints[0].bytes_toserver, job.len() as u64);
        }
        let (finds, _) = feed(&[&[0u8; 50_000]]);
        assert!(finds.is_empty());
    }

    #[test]
    fn binary_garbage_and_a_job_that_never_ends() {
        let junk: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let chunks: Vec<&[u8]> = junk.chunks(1000).collect();
        let (finds, prints) = feed(&chunks);
        assert!(finds.is_empty(), "{finds:?}");
        assert_eq!(prints[0].bytes_toserver, 200_000);
    }

    #[test]
    fn language_switches_mid_stream_and_uel_split_across_segments() {
        let mut s =
            b"\x1b%-12345X@PJL JOB NAME=\"a\"\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE page \x1b%-123"
                .to_vec();
        let second = b"45X@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%!PS\n%%Title: b\n showpage\n\x1b%-12345X@PJL EOJ\r\n";
        let (finds, prints) = feed(&[&s.clone(), second]);
        assert!(finds.is_empty(), "{finds:?}");
        assert_eq!(prints.len(), 1);
        assert_eq!(
            prints[0].languages,
            [Language::Pjl, Language::Pcl, Language::PostScript]
        );
        assert_eq!(prints[0].language, Language::PostScript);
        assert_eq!(prints[0].title.as_deref(), Some("b"));
        s.clear();
    }

    #[test]
    fn evasions_found_in_review() {
        // a UEL in the middle of a non-PJL line: the command after it is still parsed
        let (f, _) = feed(&[b"x\x1b%-12345X@PJL FSINIT VOLUME=\"0:\"\r\n"]);
        assert_eq!(
            f.iter().map(|x| x.risk).collect::<Vec<_>>(),
            [Risk::FsFormat]
        );
        // an unknown ENTER LANGUAGE: printers auto-sense the PostScript that follows
        let (f, _) = feed(&[b"@PJL ENTER LANGUAGE=FOO\r\n%!\nserverdict begin 0 exitserver\n"]);
        assert_eq!(
            f.iter().map(|x| x.risk).collect::<Vec<_>>(),
            [Risk::PsExitServer]
        );
        // bare PostScript operators with no header at all
        let (f, _) = feed(&[b"serverdict begin 0 exitserver\n"]);
        assert_eq!(
            f.iter().map(|x| x.risk).collect::<Vec<_>>(),
            [Risk::PsExitServer]
        );
        // binary PCL after PJL without ENTER and without a newline for 5 KB: not "oversized"
        let mut job = b"@PJL JOB\r\n\x1bE\x1b*b5000W".to_vec();
        job.extend(vec![0x41u8; 5000]);
        let (f, p) = feed(&[&job]);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(p[0].language, Language::Pcl);
    }

    #[test]
    fn pjl_trailer_after_a_long_postscript_part() {
        // CUPS: PJL header, >64 KiB of PostScript (past the DSC window, mid-line), then a PJL
        // trailer after the UEL.
        let mut job =
            b"\x1b%-12345X@PJL JOB NAME=\"j\"\r\n@PJL ENTER LANGUAGE = POSTSCRIPT\r\n%!PS\n"
                .to_vec();
        while job.len() < 70_000 {
            job.extend(b"0 0 moveto (some page content) show\n");
        }
        job.extend(b"%%EOF\n\x1b%-12345X@PJL\n@PJL RDYMSG DISPLAY = \"\"\n@PJL EOJ \n\x1b%-12345X");
        let chunks: Vec<&[u8]> = job.chunks(1448).collect();
        let (finds, prints) = feed(&chunks);
        assert!(finds.is_empty(), "{finds:?}");
        assert_eq!(prints.len(), 1);
        assert_eq!(prints[0].languages, [Language::Pjl, Language::PostScript]);
        assert!(
            prints[0].commands.iter().any(|c| c == "RDYMSG")
                && prints[0].commands.iter().any(|c| c == "EOJ")
        );
    }

    #[test]
    fn the_printer_side_volume_is_reported_as_it_grows() {
        let mut f = RawFlow::default();
        let mut outs = vec![];
        f.on_segment(
            Dir::ToServer,
            Tcp {
                seq: 1,
                ack: 0,
                flags: Tcp::ACK,
            },
            b"@PJL FSUPLOAD NAME=\"0:/x\" OFFSET=0 SIZE=2000000\r\n",
            &mut outs,
        );
        let chunk = vec![7u8; 1460];
        for i in 0..3u32 {
            f.on_segment(
                Dir::ToClient,
                Tcp {
                    seq: 5000 + i * 1460,
                    ack: 0,
                    flags: Tcp::ACK,
                },
                &chunk,
                &mut outs,
            );
        }
        let seen: Vec<String> = outs
            .iter()
            .map(|o| match o {
                AppEvent::Finding(x) => format!("{:?}", x.risk),
                AppEvent::PrinterData { total } => total.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(seen, ["FsRead", "1460", "2920", "4380"]);
    }
}
