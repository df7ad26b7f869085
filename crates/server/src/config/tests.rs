#![cfg(test)]

use figment::Jail;

use super::*;

#[test]
fn example_parses_to_the_defaults() {
    let cfg = Config::from_toml(EXAMPLE).expect("mxcd.example.toml must parse");
    let def = Config::default();
    assert_eq!(cfg.server_name, def.server_name);
    assert_eq!(cfg.listen, "127.0.0.1:8008");
    assert_eq!(cfg.data_dir, PathBuf::from("./mxcd-data"));
    assert_eq!(cfg.max_upload_size, ByteSize(50 << 20));
    assert!(!cfg.enable_registration);
}

/// Every key of the configuration is documented in the example, set or commented out.
#[test]
fn example_documents_every_key() {
    let v = serde_json::to_value(Config::default()).unwrap();
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.extend(
        v["federation"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| format!("federation.{k}")),
    );
    keys.extend(
        v["database"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| format!("database.{k}")),
    );
    for key in keys {
        let leaf = key.rsplit('.').next().unwrap();
        let documented = EXAMPLE.lines().any(|l| {
            let l = l.trim_start_matches(['#', ' ']);
            l.starts_with(&format!("{leaf} ="))
                || l == format!("[{leaf}]")
                || l == format!("[storage.{leaf}]")
        });
        assert!(
            documented,
            "config key `{key}` is not documented in mxcd.example.toml"
        );
    }
}

#[test]
fn sizes_and_durations_use_synapse_forms() {
    let cfg = Config::from_toml("max_upload_size = \"100M\"\nsession_lifetime = \"24h\"").unwrap();
    assert_eq!(cfg.max_upload_size.bytes(), 100 << 20);
    assert_eq!(cfg.session_lifetime.unwrap().as_millis(), 86_400_000);
    let cfg = Config::from_toml("max_upload_size = 1024").unwrap();
    assert_eq!(cfg.max_upload_size.bytes(), 1024);
}

#[test]
fn errors_name_the_key() {
    for (toml, key) in [
        ("listen = \"nowhere\"", "`listen`"),
        ("max_upload_size = \"5X\"", "`max_upload_size`"),
        ("session_lifetime = \"soon\"", "`session_lifetime`"),
        ("server_name = \"bad name\"", "`server_name`"),
        ("[database]\nurl = \"mysql://x\"", "`database.url`"),
        ("enable_registration = \"yes\"", "`enable_registration`"),
        ("enable_registration = true", "`enable_registration`"),
        ("[database]\nurll = \"x\"", "urll"),
        ("server_nam = \"x\"", "server_nam"),
    ] {
        let err = Config::from_toml(toml).expect_err(toml).to_string();
        assert!(
            err.contains(key),
            "{toml:?} gave {err:?}, which does not name {key}"
        );
    }
}

#[test]
#[allow(
    clippy::result_large_err,
    reason = "figment::Jail fixes the closure's error type"
)]
fn environment_overrides_file() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "mxcd.toml",
            "server_name = \"file.example\"\nlisten = \"127.0.0.1:1\"",
        )?;
        jail.set_env("MXCD__LISTEN", "127.0.0.1:2");
        jail.set_env("MXCD__DATABASE__URL", "postgres://u@h/db");
        jail.set_env("MXCD__MAX_UPLOAD_SIZE", "1M");
        let cfg =
            Config::load(Some(std::path::Path::new("mxcd.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(cfg.server_name, "file.example");
        assert_eq!(cfg.listen, "127.0.0.1:2");
        assert_eq!(cfg.database.url.as_deref(), Some("postgres://u@h/db"));
        assert_eq!(cfg.max_upload_size.bytes(), 1 << 20);
        Ok(())
    });
}

#[test]
fn missing_file_is_an_error() {
    let err = Config::load(Some(std::path::Path::new("/nonexistent/mxcd.toml"))).unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
}

#[test]
fn secrets_are_redacted_and_read_from_files() {
    let cfg = Config::from_toml(
        "registration_shared_secret = \"hunter2\"\n[database]\npassword = \"pgpass\"",
    )
    .unwrap();
    let shown = format!("{cfg:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("pgpass"),
        "{shown}"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("pw");
    std::fs::write(&f, "from-file\n").unwrap();
    let cfg =
        Config::from_toml(&format!("[database]\npassword_file = \"{}\"", f.display())).unwrap();
    assert_eq!(
        cfg.database_password().unwrap().unwrap().expose(),
        "from-file"
    );
    let both = "registration_shared_secret = \"a\"\nregistration_shared_secret_path = \"/x\"";
    assert!(
        Config::from_toml(both)
            .unwrap_err()
            .to_string()
            .contains("registration_shared_secret_path")
    );
}

#[test]
fn s3_storage_needs_its_section_and_one_secret() {
    let err = Config::from_toml("[storage]\nbackend = \"s3\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("storage.s3"), "{err}");
    let base = "[storage]\nbackend = \"s3\"\n[storage.s3]\nendpoint = \"http://s3\"\nbucket = \"b\"\naccess_key_id = \"k\"\n";
    let err = Config::from_toml(base).unwrap_err().to_string();
    assert!(err.contains("storage.s3.secret_access_key"), "{err}");
    let cfg = Config::from_toml(&format!("{base}secret_access_key = \"s\"")).unwrap();
    let s3 = cfg.s3().unwrap().unwrap();
    assert_eq!(
        (s3.region.as_str(), s3.secret_access_key.as_str()),
        ("us-east-1", "s")
    );
    assert!(!format!("{cfg:?}").contains("secret_access_key: Some(\"s\")"));
    let err = Config::from_toml("[storage]\nbackend = \"ftp\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("storage.backend"), "{err}");
}
