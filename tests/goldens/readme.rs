//! The README's example records must be what the code writes today: every whole JSON line in
//! README.md that names a bundled sample must come out, byte for byte, of replaying that sample
//! with no policy or with one of the test policies (abridged lines, with `…`, are not checked).

#[path = "../common/mod.rs"]
mod common;
use common::*;
use std::collections::BTreeMap;

#[test]
fn readme_example_lines_are_current() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let policies = [
        None,
        Some("tests/policy/site.toml"),
        Some("tests/policy/loopback.toml"),
    ];
    let mut outputs: BTreeMap<(String, bool, Option<&str>), String> = BTreeMap::new();
    let mut checked = 0;
    let mut stale = vec![];
    for line in readme.lines() {
        let ecs = line.starts_with("{\"@timestamp\"");
        if !(line.starts_with("{\"timestamp\"") || ecs)
            || line.contains('…')
            || line.contains("...")
        {
            continue;
        }
        let Some(rest) = line.split("samples/").nth(1) else {
            continue;
        };
        let sample = rest.split('"').next().unwrap().to_owned();
        let found = policies.iter().any(|policy| {
            let out = outputs
                .entry((sample.clone(), ecs, *policy))
                .or_insert_with(|| {
                    let file = format!("samples/{sample}");
                    let mut args = vec!["-r", file.as_str()];
                    if ecs {
                        args.extend(["--format", "ecs"]);
                    }
                    if let Some(p) = policy {
                        args.extend(["--policy", p]);
                    }
                    let r = run(&args);
                    assert_eq!(r.code, 0, "{sample}: {}", r.stderr);
                    r.stdout
                });
            out.lines().any(|l| l == line)
        });
        checked += 1;
        if !found {
            stale.push(line.chars().take(160).collect::<String>());
        }
    }
    assert!(checked >= 20, "only {checked} README lines checked");
    assert!(
        stale.is_empty(),
        "README lines no replay of their sample gives (update them from the sample):\n{}",
        stale.join("\n")
    );
}
