//! One local user's media, paged and sorted as Synapse's `/users/{userId}/media` lists it.

use sqlx::AssertSqlSafe;

use crate::{Db, DbError, read};

/// A local media row as the user media listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserMediaRow {
    pub media_id: String,
    pub media_type: Option<String>,
    pub media_length: Option<i64>,
    pub upload_name: Option<String>,
    pub created_ts: i64,
    pub url_cache: Option<String>,
    pub last_access_ts: Option<i64>,
    pub quarantined_by: Option<String>,
    pub safe_from_quarantine: bool,
    pub user_id: Option<String>,
    pub authenticated: bool,
    pub sha256: Option<String>,
}
crate::row::from_row!(UserMediaRow {
    media_id,
    media_type,
    media_length,
    upload_name,
    created_ts,
    url_cache,
    last_access_ts,
    quarantined_by,
    safe_from_quarantine,
    user_id,
    authenticated,
    sha256
});

/// Columns the listing can be sorted by (Synapse's `MediaSortOrder`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserMediaOrder {
    MediaId,
    UploadName,
    #[default]
    CreatedTs,
    LastAccessTs,
    MediaLength,
    MediaType,
    QuarantinedBy,
    SafeFromQuarantine,
}

impl UserMediaOrder {
    fn column(self) -> &'static str {
        match self {
            Self::MediaId => "media_id",
            Self::UploadName => "upload_name",
            Self::CreatedTs => "created_ts",
            Self::LastAccessTs => "last_access_ts",
            Self::MediaLength => "media_length",
            Self::MediaType => "media_type",
            Self::QuarantinedBy => "quarantined_by",
            Self::SafeFromQuarantine => "safe_from_quarantine",
        }
    }
}

impl Db {
    /// A page of `user_id`'s media of `origin` and how many there are in all. Sorted by
    /// `order` (NULLs last ascending, first descending, on both backends), then by media ID
    /// ascending whatever the direction, as Synapse does.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn user_media(
        &self,
        origin: &str,
        user_id: &str,
        order: UserMediaOrder,
        descending: bool,
        from: i64,
        limit: i64,
    ) -> Result<(Vec<UserMediaRow>, i64), DbError> {
        let col = order.column();
        let (dir, nulls) = if descending {
            ("DESC", "FIRST")
        } else {
            ("ASC", "LAST")
        };
        let page_sql = format!(
            "SELECT media_id, media_type, media_length, upload_name, created_ts, url_cache, \
             last_access_ts, quarantined_by, safe_from_quarantine, user_id, authenticated, sha256 \
             FROM media WHERE origin = $1 AND user_id = $2 \
             ORDER BY {col} {dir} NULLS {nulls}, media_id ASC LIMIT $3 OFFSET $4"
        );
        const COUNT: &str = "SELECT COUNT(*) FROM media WHERE origin = $1 AND user_id = $2";
        Ok(read!(self, |p| {
            let rows = sqlx::query_as(AssertSqlSafe(page_sql))
                .bind(origin)
                .bind(user_id)
                .bind(limit)
                .bind(from)
                .fetch_all(p)
                .await?;
            let total = sqlx::query_scalar(COUNT)
                .bind(origin)
                .bind(user_id)
                .fetch_one(p)
                .await?;
            (rows, total)
        }))
    }
}
