//! Errors of the persistence layer.

/// What went wrong, as far as callers need to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The row asked for does not exist.
    NotFound,
    /// A uniqueness rule refused the write.
    Conflict,
    /// The database failed or could not be reached.
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("row not found")]
    NotFound,
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    #[error("database url must start with sqlite: or postgres:")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Sqlx(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    #[error("group commit failed: {0}")]
    Commit(String),
    #[error("the database is closed")]
    Closed,
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl DbError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Conflict(_) => ErrorKind::Conflict,
            Self::UnsupportedUrl
            | Self::Sqlx(_)
            | Self::Sqlite(_)
            | Self::Commit(_)
            | Self::Closed
            | Self::Migrate(_) => ErrorKind::Internal,
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(ref d) if d.is_unique_violation() => {
                Self::Conflict(d.message().to_owned())
            }
            other => Self::Sqlx(other),
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Self::NotFound,
            // As sqlx's `is_unique_violation`: UNIQUE and PRIMARY KEY constraints.
            rusqlite::Error::SqliteFailure(f, msg)
                if matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                Self::Conflict(msg.unwrap_or_else(|| f.to_string()))
            }
            other => Self::Sqlite(other),
        }
    }
}
