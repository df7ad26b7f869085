//! Embeds the SQL migrations: writes `$OUT_DIR/migrations.rs`, one list per backend of
//! `(version, description, sql)`, read by `migrations.rs`. This is what `sqlx::migrate!` does,
//! without the sqlx proc-macro crate, which would build every database driver a second time for
//! the compiler (docs/design.md, "Build time").

use std::{fmt::Write as _, fs, path::Path};

fn main() {
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    let mut code = String::new();
    for backend in ["sqlite", "postgres"] {
        let dir = Path::new("migrations").join(backend);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        files.sort();
        writeln!(
            code,
            "pub(crate) const {}: &[(i64, &str, &str)] = &[",
            backend.to_uppercase()
        )
        .unwrap();
        for file in files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 file name");
            let stem = name
                .strip_suffix(".sql")
                .unwrap_or_else(|| panic!("{}: a migration ends in .sql", file.display()));
            let (version, description) = stem.split_once('_').unwrap_or_else(|| {
                panic!("{name}: a migration is named <version>_<description>.sql")
            });
            let version: i64 = version
                .parse()
                .unwrap_or_else(|_| panic!("{name}: the version is not a number"));
            let path = fs::canonicalize(&file).expect("a migration's path");
            writeln!(
                code,
                "    ({version}, {:?}, include_str!({:?})),",
                description.replace('_', " "),
                path.display().to_string()
            )
            .unwrap();
        }
        code.push_str("];\n");
    }
    fs::write(&out, code).expect("writing migrations.rs");
}
