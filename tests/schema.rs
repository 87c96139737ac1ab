//! `topolab schema` is a real JSON Schema: an independent validator
//! (python-jsonschema) accepts every example topology against it and rejects
//! a misspelled key and a bad unit, as an editor would.

mod common;

use common::{Sandbox, peers, require_peer};

fn check(sb: &Sandbox, files: &[std::path::PathBuf]) -> std::process::Output {
    let out = sb.command(&["schema"]).output().unwrap();
    assert!(out.status.success());
    let schema = sb.file("schema.json", &String::from_utf8_lossy(&out.stdout));
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/validate_examples.py");
    std::process::Command::new("python3")
        .arg(script)
        .arg(schema)
        .args(files)
        .output()
        .expect("run python3")
}

#[test]
fn every_example_topology_satisfies_the_schema() {
    if !require_peer(&peers::PYTHON_JSONSCHEMA) {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    let out = check(&Sandbox::new(), &files);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_schema_catches_a_misspelled_key_and_a_bad_unit() {
    if !require_peer(&peers::PYTHON_JSONSCHEMA) {
        return;
    }
    let sb = Sandbox::new();
    let typo = sb.file(
        "typo.yaml",
        "name: t\nservices:\n  api:\n    wrokers: 2\n    endpoints:\n      Get: {}\n",
    );
    let unit = sb.file(
        "unit.yaml",
        "name: t\nservices:\n  api:\n    endpoints:\n      Get:\n        steps:\n          - work: 5 parsecs\n",
    );
    for f in [typo, unit] {
        let out = check(&sb, std::slice::from_ref(&f));
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
