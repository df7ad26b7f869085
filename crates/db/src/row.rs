//! Rows read into structs, on both backends.

/// Implements `sqlx::FromRow` for SQLite's and PostgreSQL's rows for a struct whose listed
/// fields are read from the columns of the same names; `field as "column"` reads another column.
/// This is what `#[derive(sqlx::FromRow)]` did, without sqlx's proc-macro crate (see
/// `migrations.rs`). A field left out or misspelt is a compile error.
macro_rules! from_row {
    ($ty:ty { $($field:ident $(as $column:literal)?),* $(,)? }) => {
        $crate::row::from_row!(@impl $ty, ::sqlx::sqlite::SqliteRow, $($field $(as $column)?),*);
        $crate::row::from_row!(@impl $ty, ::sqlx::postgres::PgRow, $($field $(as $column)?),*);
    };
    (@impl $ty:ty, $row:ty, $($field:ident $(as $column:literal)?),*) => {
        impl<'r> ::sqlx::FromRow<'r, $row> for $ty {
            fn from_row(row: &'r $row) -> ::std::result::Result<Self, ::sqlx::Error> {
                use ::sqlx::Row as _;
                Ok(Self {
                    $($field: row.try_get($crate::row::from_row!(@column $field $($column)?))?),*
                })
            }
        }
    };
    (@column $field:ident) => { stringify!($field) };
    (@column $field:ident $column:literal) => { $column };
}

pub(crate) use from_row;
