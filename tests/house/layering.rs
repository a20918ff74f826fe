//! The house's import rules (docs/ARCHITECTURE.md, "What each stage may use") as a test: every
//! `crate::X` a stage's files name must be one the table allows, so no import runs back up the
//! data path (capture → decode → defrag → flow → analyze → detect → output) without this
//! failing. A new top-level module must be given a row here.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each stage folder and what it may use of the crate (besides itself). `bounded` is the
/// capped map every table fed from the wire uses: a leaf like `net`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("net", &[]),
    ("proto", &["net"]),
    ("capture", &["net"]),
    ("decode", &["net"]),
    ("defrag", &["decode", "net", "bounded"]),
    ("event", &["net", "proto"]),
    ("config", &["net", "defrag"]),
    ("flow", &["decode", "event", "net"]),
    (
        "analyze",
        &["flow", "decode", "proto", "event", "net", "bounded"],
    ),
    (
        "detect",
        &[
            "analyze", "flow", "event", "proto", "net", "defrag", "bounded", "config",
        ],
    ),
    ("output", &["event", "net"]),
    (
        "engine",
        &[
            "capture", "decode", "defrag", "flow", "analyze", "detect", "output", "event", "proto",
            "net", "bounded", "config",
        ],
    ),
    (
        "run",
        &[
            "engine",
            "capture",
            "output",
            "verify",
            "detect",
            "event",
            "net",
            "health",
            "config",
            "report",
            "cli",
            "metrics",
            "privileges",
        ],
    ),
    (
        "verify",
        &["event", "net", "proto", "detect", "output", "config"],
    ),
    ("metrics", &["event", "net"]),
];

/// `crate::X` names in every .rs file below `dir`, with the first file that names each.
fn imports(dir: &Path, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            imports(&path, out);
            continue;
        }
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.entry(name)
                .or_insert_with(|| path.display().to_string());
        }
    }
}

#[test]
fn no_stage_imports_against_the_data_path() {
    let src = root().join("src");
    let mut violations = vec![];
    let mut stages = BTreeSet::new();
    for (stage, allowed) in ALLOWED {
        stages.insert(*stage);
        let mut found = BTreeMap::new();
        imports(&src.join(stage), &mut found);
        for (name, file) in found {
            if name != *stage && !allowed.contains(&name.as_str()) {
                violations.push(format!("{file}: {stage} uses crate::{name}"));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    // every stage folder has a row, so a new one cannot slip past the rules
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(stages.contains(name.as_str()), "src/{name}/ has no row");
        }
    }
}

#[test]
fn the_rules_can_fail() {
    // the scanner sees an import against the path where there is one: detect naming output
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.rs"),
        "use crate::output::RecordSink;\nfn f() { crate::net::L4::Tcp; }\n",
    )
    .unwrap();
    let mut found = BTreeMap::new();
    imports(dir.path(), &mut found);
    assert_eq!(
        found.keys().cloned().collect::<Vec<_>>(),
        ["net".to_owned(), "output".to_owned()]
    );
}
