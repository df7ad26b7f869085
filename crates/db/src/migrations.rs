//! The SQL migrations of both backends, embedded by `build.rs` from `migrations/`.
//!
//! `sqlx::migrate!` would embed them too, but it lives in sqlx's proc-macro crate, which builds
//! both database drivers, SQLite's C code and a TLS stack a second time, for the compiler
//! (docs/design.md, "Build time"). The migrations here are the ones that macro made: the same
//! versions, descriptions and checksums (the SHA-384 of each file), so databases it migrated
//! carry on.

use std::borrow::Cow;

use sqlx::{
    SqlStr,
    migrate::{Migration, MigrationType, Migrator},
};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// A migrator for one backend's list, `SQLITE` or `POSTGRES`: `(version, description, sql)`.
pub(crate) fn migrator(list: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded migrations are what sqlx reads from the directory, as `sqlx::migrate!` did:
    /// version, description, type, checksum and transaction mode.
    #[test]
    fn embedded_as_sqlx_resolves_them() {
        for (dir, list) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dir);
            let mut resolved: Vec<Migration> = sqlx::migrate::resolve_blocking(&path)
                .unwrap()
                .into_iter()
                .map(|(m, _)| m)
                .collect();
            resolved.sort();
            let embedded = migrator(list);
            assert_eq!(embedded.migrations.len(), resolved.len(), "{dir}");
            for (e, r) in embedded.migrations.iter().zip(&resolved) {
                assert_eq!(
                    (
                        e.version,
                        &e.description,
                        e.migration_type,
                        &e.checksum,
                        e.no_tx
                    ),
                    (
                        r.version,
                        &r.description,
                        r.migration_type,
                        &r.checksum,
                        r.no_tx
                    ),
                    "{dir}"
                );
            }
        }
    }
}
