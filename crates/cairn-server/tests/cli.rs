//! The binary's command line. (Also makes `cargo test` build the `cairn`
//! binary that the end-to-end suite in `tests/` starts.)

use std::process::Command;

#[test]
fn help_documents_every_setting() {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn")).arg("--help").output().expect("run cairn");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in ["serve", "--listen", "--data-dir", "--config", "--durability", "--tls-cert", "--tls-key", "CAIRN_LISTEN", "CAIRN_DATA_DIR"] {
        assert!(help.contains(flag), "--help does not mention {flag}:\n{help}");
    }
}

#[test]
fn a_bad_config_file_is_refused_with_a_message() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("bad.toml");
    std::fs::write(&path, "listen = 5\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .expect("run cairn");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid config file"));
}
