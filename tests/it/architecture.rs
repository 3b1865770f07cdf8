//! The house rules that a grep can hold: engines and domain types name no framework or
//! storage engine, and only the composition root names concrete adapters.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn files_under(relative: &str) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(relative),
        &mut files,
    );
    files
}

#[test]
fn domain_and_engines_name_no_framework_or_storage_engine() {
    for folder in [
        "src/model",
        "src/flow",
        "src/session",
        "src/directory",
        "src/events",
        "src/crypto",
        "src/policy",
        "src/providers",
    ] {
        for file in files_under(folder) {
            let text = std::fs::read_to_string(&file).unwrap();
            for forbidden in ["actix", "rusqlite", "redb"] {
                assert!(
                    !text.contains(forbidden),
                    "{} mentions {forbidden}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn only_the_composition_root_names_concrete_adapters() {
    for file in files_under("src") {
        let relative = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .to_string_lossy()
            .to_string();
        let test_only = relative.ends_with("/tests.rs");
        if relative.starts_with("src/store/") || relative == "src/app.rs" || test_only {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests may build an adapter by hand; the rule is about production code.
        // (`#[cfg(test)]` on an item, or `#![cfg(test)]` heading a test-only file.)
        let text = text.split("cfg(test)]").next().unwrap_or_default();
        for adapter in ["SqliteStore", "RedbKv", "MemoryKv"] {
            assert!(!text.contains(adapter), "{relative} names {adapter}");
        }
    }
}

#[test]
fn migration_folders_hold_numbered_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut numbers: Vec<u32> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.ends_with(".sql"))
        .map(|name| name[..4].parse().unwrap())
        .collect();
    numbers.sort_unstable();
    let expected: Vec<u32> = (1..=u32::try_from(numbers.len()).unwrap()).collect();
    assert_eq!(
        numbers, expected,
        "migrations are numbered 0001, 0002, ... without gaps"
    );
}
