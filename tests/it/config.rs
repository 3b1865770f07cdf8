//! Configuration errors are one clear line and a non-zero exit; check-config masks secrets.

use std::process::Command;

fn gatehouse(envs: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let dir = tempfile::TempDir::new().unwrap();
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env_clear()
        .env("GATEHOUSE_DATA_DIR", dir.path())
        .envs(envs.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn a_bad_value_names_the_variable_and_exits_non_zero() {
    let output = gatehouse(
        &[("GATEHOUSE_LISTEN__HTTP", "not-an-address")],
        &["check-config"],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("GATEHOUSE_LISTEN__HTTP"), "{stderr}");

    let output = gatehouse(&[("AUTHENTIK_EMAIL__PORT", "lots")], &["serve"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("AUTHENTIK_EMAIL__PORT")
    );
}

#[test]
fn an_unknown_key_in_the_file_is_named() {
    let dir = tempfile::TempDir::new().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(&file, "[listen]\nhtp = \"0.0.0.0:9000\"\n").unwrap();
    let output = gatehouse(&[], &["--config", file.to_str().unwrap(), "check-config"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("listen.htp"), "{stderr}");
}

#[test]
fn check_config_prints_effective_settings_with_secrets_masked() {
    let output = gatehouse(
        &[
            ("AUTHENTIK_SECRET_KEY", "super-secret-value"),
            ("AUTHENTIK_LISTEN__HTTP", "127.0.0.1:9100"),
            ("GATEHOUSE_LISTEN__LDAP", "off"),
        ],
        &["check-config"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains("super-secret-value"), "{stdout}");
    assert!(stdout.contains("********"));
    assert!(stdout.contains("127.0.0.1:9100"));
    assert!(stdout.contains("ldap = \"off\""), "{stdout}");
}

#[test]
fn version_is_printed() {
    let output = gatehouse(&[], &["--version"]);
    assert!(output.status.success());
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains(env!("CARGO_PKG_VERSION"))
    );
}
