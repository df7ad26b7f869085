//! Errors of the accounts service.

use mxcd_db::DbError;
use mxcd_types::LocalpartError;

/// Why a request could not be authenticated. Messages are Synapse's.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    MissingToken(&'static str),
    #[error("Invalid access token passed.")]
    UnknownToken,
    #[error("Access token has expired")]
    ExpiredToken,
    #[error("User account has been locked")]
    Locked,
    #[error("Guest access not allowed")]
    GuestForbidden,
    #[error("You are not a server admin")]
    NotAdmin,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    InvalidUsername(#[from] LocalpartError),
    #[error("Numeric user IDs are reserved for guest users.")]
    NumericUsername,
    #[error("User ID already taken.")]
    UserInUse,
    #[error("Invalid username or password")]
    InvalidLogin,
    #[error("This account has been deactivated")]
    Deactivated,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Db(#[from] DbError),
}
