//! Errors of the homeserver core (rooms, sync, profiles, account data), with Synapse's
//! messages.

use mxcd_db::{DbError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum RoomsError {
    /// 403 `M_FORBIDDEN`.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `M_BAD_STATE`.
    #[error("{0}")]
    BadState(String),
    /// 400 `M_FORBIDDEN` (Synapse's `AuthError(400, …)`).
    #[error("{0}")]
    ForbiddenBadRequest(String),
    /// 405 `M_BAD_JSON`.
    #[error("{0}")]
    NotAllowed(String),
    /// 404 `M_NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// 400 `M_BAD_JSON`.
    #[error("{0}")]
    BadJson(String),
    /// 400 `M_INVALID_PARAM`.
    #[error("{0}")]
    InvalidParam(String),
    /// 400 `M_MISSING_PARAM`.
    #[error("{0}")]
    MissingParam(String),
    /// 400 `M_UNKNOWN`.
    #[error("{0}")]
    BadRequest(String),
    /// 400 `M_ROOM_IN_USE`.
    #[error("{0}")]
    RoomInUse(String),
    /// 409 `M_UNKNOWN`.
    #[error("{0}")]
    Conflict(String),
    /// 400 `M_UNSUPPORTED_ROOM_VERSION`.
    #[error("Your homeserver does not support this room version")]
    UnsupportedRoomVersion,
    /// 413 `M_TOO_LARGE`.
    #[error("event too large")]
    TooLarge,
    /// Other writers kept moving the room on; the request may be retried.
    #[error("the room changed too often while the event was being sent")]
    Contention,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl RoomsError {
    pub(crate) fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }

    /// A database "not found" becomes `what`, anything else stays a database error.
    pub(crate) fn db_not_found(e: DbError, what: &str) -> Self {
        match e.kind() {
            ErrorKind::NotFound => Self::NotFound(what.into()),
            _ => Self::Db(e),
        }
    }
}

pub type RoomsResult<T> = Result<T, RoomsError>;
