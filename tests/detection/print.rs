//! Print streams on TCP 9100: every risky PJL class of docs/PROTOCOLS.md §6.3 in
//! samples/gen-pjl-attacks.pcap fires its alert, and the benign driver jobs raise nothing
//! beyond the connection alerts.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};

/// client port -> signature ids of the print alerts (1200+) of that session.
fn print_alerts(r: &Run) -> BTreeMap<u64, BTreeSet<u64>> {
    let mut m: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for a in r.of_type("alert") {
        let sid = a["alert"]["signature_id"].as_u64().unwrap();
        if sid >= 1200 {
            m.entry(a["src_port"].as_u64().unwrap())
                .or_default()
                .insert(sid);
        }
    }
    m
}

#[test]
fn every_risky_pjl_class_fires_and_driver_jobs_do_not() {
    // suppression off (1 ms) so each scenario shows all its classes
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(&p, "[suppress]\nwindow = \"1ms\"\n").unwrap();
    let r = run(&[
        "-r",
        "samples/gen-pjl-attacks.pcap",
        "--policy",
        p.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = print_alerts(&r);
    let want: BTreeMap<u64, BTreeSet<u64>> = [
        (46001, vec![1223]),                   // INFO CONFIG/VARIABLES/FILESYS
        (46002, vec![1201, 1225]),             // FSUPLOAD + 2 MB back
        (46003, vec![1202]),                   // FSDOWNLOAD/FSAPPEND, payload skipped
        (46004, vec![1203, 1204, 1205, 1206]), // FSDELETE, FSINIT, FSDIRLIST.., ../etc
        (46005, vec![1207, 1209]),             // DEFAULT PASSWORD/CPLOCK, DINQUIRE
        (46006, vec![1207, 1208, 1211]),       // 200 JOB PASSWORD guesses
        (46007, vec![1210, 1212, 1213, 1214]), // SERVICEMODE, PAGES, JOBMEDIA, HOLD
        (46008, vec![1211]),                   // 300 DEFAULT COPIES
        (46009, vec![1215, 1216, 1217, 1218, 1219, 1220, 1221]),
        (46010, vec![1222]),       // 10 000-byte argument
        (46011, vec![1201, 1224]), // USTATUSOFF, FSUP|LOAD split
        (46012, vec![1201]),       // lower case after @PJL
    ]
    .into_iter()
    .map(|(port, sids)| (port, sids.into_iter().collect()))
    .collect();
    assert_eq!(got, want);
    // NVRAM wear is a rate rule: a couple of DEFAULT writes are configuration, not an attack
    assert!(!got[&46005].contains(&1211) && !got[&46007].contains(&1211));
    // the decoy "@PJL FSDELETE" inside the FSDOWNLOAD payload and "@pjl FSDELETE" are not PJL
    assert!(!got[&46003].contains(&1203));
    assert!(!got[&46012].contains(&1203));
    // evidence: the command line, capped
    let oversized = r
        .of_type("alert")
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == 1222)
        .unwrap();
    assert!(oversized["evidence"]["command"].as_str().unwrap().len() <= 256);
    let reset = r
        .of_type("alert")
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == 1219)
        .unwrap();
    assert_eq!(reset["evidence"]["command"], "@PJL CLEARNVRAM");
    assert_eq!(reset["alert"]["severity"], 1);

    // print records: the benign PostScript job, attributed
    let prints = r.of_type("print");
    let job = prints.iter().find(|p| p["src_port"] == 46013).unwrap();
    assert_eq!(job["print"]["language"], "postscript");
    assert_eq!(
        job["print"]["languages"],
        serde_json::json!(["pjl", "postscript"])
    );
    assert_eq!(job["print"]["job_name"], "Quarterly report");
    assert_eq!(job["print"]["user"], "alice");
    assert_eq!(job["print"]["title"], "Quarterly report");
    assert_eq!(job["print"]["creator"], "LibreOffice");
    assert_eq!(job["app_proto"], "postscript");
    let pcl = prints.iter().find(|p| p["src_port"] == 46014).unwrap();
    assert_eq!(pcl["print"]["language"], "pcl");
    let upload = prints.iter().find(|p| p["src_port"] == 46002).unwrap();
    assert!(upload["print"]["bytes_toclient"].as_u64().unwrap() >= 2_000_000);
    // the flow record of the job knows its language
    let flow = r
        .of_type("flow")
        .into_iter()
        .find(|f| f["src_port"] == 46013)
        .unwrap();
    assert_eq!(flow["app_proto"], "postscript");
}

#[test]
fn ordinary_jobs_from_the_samples_raise_no_print_alert() {
    let r = run(&["-r", "samples/gen-pjl-9100.pcap"]);
    assert!(print_alerts(&r).is_empty());
    let p = &r.of_type("print")[0]["print"];
    assert_eq!(
        (p["language"].as_str(), p["job_name"].as_str()),
        (Some("postscript"), Some("report"))
    );
}

/// Ethernet/IPv4/TCP frame (checksums are not checked by the engine).
#[allow(clippy::too_many_arguments)]
fn tcp_frame(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = (40 + payload.len()) as u16;
    f.extend([0x45, 0]);
    f.extend(total.to_be_bytes());
    f.extend([0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend(src);
    f.extend(dst);
    f.extend(sport.to_be_bytes());
    f.extend(dport.to_be_bytes());
    f.extend(seq.to_be_bytes());
    f.extend(ack.to_be_bytes());
    f.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend(payload);
    f
}

/// One TCP session carrying `job` to 192.0.2.31:9100 in `seg`-byte segments, through the
/// engine; returns the print alert ids (1300+) and the print records' languages.
fn session(job: &[u8], seg: usize) -> (BTreeSet<u32>, Vec<&'static str>) {
    use bjnp_watch::capture::Frame;
    use bjnp_watch::engine::{Engine, EngineConfig};
    use bjnp_watch::event::{Body, Record, Timestamp};
    let (c, s) = ([198, 51, 100, 50], [192, 0, 2, 31]);
    let mut frames = vec![
        tcp_frame(c, 47000, s, 9100, 100, 0, 0x02, &[]),
        tcp_frame(s, 9100, c, 47000, 900, 101, 0x12, &[]),
    ];
    let mut seq = 101u32;
    for chunk in job.chunks(seg) {
        frames.push(tcp_frame(c, 47000, s, 9100, seq, 901, 0x18, chunk));
        seq += chunk.len() as u32;
    }
    frames.push(tcp_frame(c, 47000, s, 9100, seq, 901, 0x11, &[]));
    frames.push(tcp_frame(s, 9100, c, 47000, 901, seq + 1, 0x11, &[]));
    let mut e = Engine::new(EngineConfig::default());
    let mut out: Vec<Record> = vec![];
    for (i, f) in frames.iter().enumerate() {
        let fr = Frame {
            ts: Timestamp(1_000_000_000 + i as u64 * 1_000),
            linktype: 1,
            data: f,
            orig_len: f.len() as u32,
            cnt: i as u64 + 1,
        };
        e.process(&fr, &mut out);
    }
    e.finish(&mut out);
    let sids = out
        .iter()
        .filter_map(|r| {
            if let Body::Alert(a) = &r.body {
                Some(a.alert.signature_id)
            } else {
                None
            }
        })
        .filter(|&s| s >= 1300)
        .collect();
    let langs = out
        .iter()
        .filter_map(|r| {
            if let Body::Print(p) = &r.body {
                Some(p.language.name())
            } else {
                None
            }
        })
        .collect();
    (sids, langs)
}

#[test]
fn postscript_attacks_split_across_segments() {
    let job = b"\x1b%-12345X@PJL ENTER LANGUAGE = POSTSCRIPT\n%!\n% PRET-style session\n\
serverdict begin 0 exitserver\n/showpage {} def\n\
<< /Password () /SystemParamsPassword (0) >> setsystemparams\n\
/f (../../../etc/passwd) (w) file def\n\
(*) {128 string cvs print} 128 string filenameforall\n\
{} loop\n\x1b%-12345X";
    // 7-byte segments: every token is cut somewhere
    let (sids, langs) = session(job, 7);
    assert_eq!(
        sids,
        [1301, 1303, 1306, 1307, 1309, 1310]
            .into_iter()
            .collect::<BTreeSet<u32>>()
    );
    assert_eq!(langs, ["postscript"]);
}

#[test]
fn pcl_macro_store_and_echo() {
    let mut job = b"\x1b%-12345X@PJL ENTER LANGUAGE = PCL\r\n\x1bE\x1b&f10000y0X".to_vec();
    for i in 0..40 {
        job.extend(format!("\x1b*s{}X\x1b*s-300X", 48 + i % 10).bytes());
    }
    job.extend(b"\x1b&f1X\x1b&f10000y10X\x1bE\x1b%-12345X");
    let (sids, langs) = session(&job, 5);
    assert_eq!(sids, [1401, 1402].into_iter().collect::<BTreeSet<u32>>());
    assert_eq!(langs, ["pcl"]);
    // an ordinary PCL page raises nothing
    let page = b"\x1bE\x1b&l0O\x1b*t300R\x1b*r1A\x1b*b4W\x1b&f10X\x1b*rB Hello\x0c\x1bE";
    assert!(session(page, 3).0.is_empty());
}

/// Real software: the CUPS `socket` backend sending jobs Ghostscript rendered (PostScript,
/// PCL 5, PCL XL, PDF, PJL-wrapped) must raise no print-risk alert.
#[test]
fn real_driver_jobs_raise_no_print_alert() {
    let r = run(&["-r", "samples/cups-socket-jobs.pcap"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(print_alerts(&r).is_empty(), "{:?}", print_alerts(&r));
    let langs: BTreeSet<String> = r
        .of_type("print")
        .iter()
        .map(|p| p["print"]["language"].as_str().unwrap().to_owned())
        .collect();
    for l in ["postscript", "pcl", "pclxl", "pdf"] {
        assert!(langs.contains(l), "{l} missing from {langs:?}");
    }
}

#[test]
fn postscript_and_pcl_attack_sample() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(&p, "[suppress]\nwindow = \"1ms\"\n").unwrap();
    let r = run(&[
        "-r",
        "samples/gen-ps-pcl-attacks.pcap",
        "--policy",
        p.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = print_alerts(&r);
    let ps: BTreeSet<u64> = (1301..=1313).filter(|&s| s != 1304).collect();
    assert_eq!(got[&47001], ps);
    assert_eq!(got[&47002], [1401, 1402, 1403].into_iter().collect());
    // the decoys in a string and a comment did not fire on their own: the exitserver alert
    // names the real operator
    let exit = r
        .of_type("alert")
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == 1301)
        .unwrap();
    assert_eq!(exit["evidence"]["command"], "exitserver");
}
