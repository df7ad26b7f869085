//! The one place where errors become HTTP statuses and Matrix `{"errcode","error"}` bodies.

use std::borrow::Cow;

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use mxcd_db::{DbError, ErrorKind};
use serde_json::{Map, Value, json};

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub errcode: &'static str,
    pub message: Cow<'static, str>,
    /// Extra top-level fields of the error body (`soft_logout`, `retry_after_ms`, …).
    pub extra: Map<String, Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(
        status: StatusCode,
        errcode: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            errcode,
            message: message.into(),
            extra: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    pub fn unrecognized(status: StatusCode) -> Self {
        Self::new(status, "M_UNRECOGNIZED", "Unrecognized request")
    }

    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "M_FORBIDDEN", message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "M_NOT_FOUND", message)
    }

    pub fn bad_json(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "M_BAD_JSON", message)
    }

    pub fn invalid_param(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", message)
    }

    pub fn missing_param(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "M_MISSING_PARAM", message)
    }

    pub fn unknown(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(status, "M_UNKNOWN", message)
    }

    /// A server-side failure: the cause is logged here, once, and the body stays generic.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::unknown(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e.kind() {
            ErrorKind::NotFound => Self::not_found("Not found"),
            ErrorKind::Conflict => Self::new(StatusCode::CONFLICT, "M_UNKNOWN", "Conflict"),
            ErrorKind::Internal => Self::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::with_capacity(2 + self.extra.len());
        body.insert("errcode".into(), json!(self.errcode));
        body.insert("error".into(), json!(self.message));
        // Synapse's 429s carry `Retry-After` (whole seconds, rounded up) beside `retry_after_ms`.
        let retry_after = (self.status == StatusCode::TOO_MANY_REQUESTS)
            .then(|| self.extra.get("retry_after_ms").and_then(Value::as_i64))
            .flatten()
            .map(|ms| (ms.max(0) as u64).div_ceil(1000));
        body.extend(self.extra);
        let mut res = (self.status, axum::Json(Value::Object(body))).into_response();
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

impl From<crate::services::accounts::AuthError> for ApiError {
    fn from(e: crate::services::accounts::AuthError) -> Self {
        use crate::services::accounts::AuthError as A;
        let msg = e.to_string();
        match e {
            A::MissingToken(_) => Self::new(StatusCode::UNAUTHORIZED, "M_MISSING_TOKEN", msg),
            A::UnknownToken => Self::new(StatusCode::UNAUTHORIZED, "M_UNKNOWN_TOKEN", msg)
                .with("soft_logout", false),
            A::ExpiredToken => Self::new(StatusCode::UNAUTHORIZED, "M_UNKNOWN_TOKEN", msg)
                .with("soft_logout", true),
            A::Locked => {
                Self::new(StatusCode::UNAUTHORIZED, "M_USER_LOCKED", msg).with("soft_logout", true)
            }
            A::GuestForbidden => Self::new(StatusCode::FORBIDDEN, "M_GUEST_ACCESS_FORBIDDEN", msg),
            A::NotAdmin => Self::forbidden(msg),
        }
    }
}

impl From<crate::services::accounts::AccountsError> for ApiError {
    fn from(e: crate::services::accounts::AccountsError) -> Self {
        use crate::services::accounts::AccountsError as E;
        let msg = e.to_string();
        match e {
            E::Auth(a) => a.into(),
            E::InvalidUsername(_) | E::NumericUsername => {
                Self::new(StatusCode::BAD_REQUEST, "M_INVALID_USERNAME", msg)
            }
            E::UserInUse => Self::new(StatusCode::BAD_REQUEST, "M_USER_IN_USE", msg),
            E::InvalidLogin => Self::forbidden(msg),
            E::Deactivated => Self::new(StatusCode::FORBIDDEN, "M_USER_DEACTIVATED", msg),
            E::Hashing(_) => Self::internal(e),
            E::Db(d) => d.into(),
        }
    }
}

impl From<crate::services::users::UsersError> for ApiError {
    fn from(e: crate::services::users::UsersError) -> Self {
        use crate::services::users::UsersError as E;
        let msg = e.to_string();
        match e {
            E::SelfDemotion => Self::unknown(StatusCode::BAD_REQUEST, msg),
            E::NoSuchUser => Self::unknown(StatusCode::NOT_FOUND, msg),
            E::Accounts(a) => a.into(),
        }
    }
}

impl From<crate::services::media::MediaError> for ApiError {
    fn from(e: crate::services::media::MediaError) -> Self {
        use crate::services::media::MediaError as E;
        match e {
            E::NotFound => Self::not_found("Not found"),
            E::TooLarge(_) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "M_TOO_LARGE",
                "Upload request body is too large",
            ),
            E::NotYetUploaded => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "M_NOT_YET_UPLOADED",
                "Media has not been uploaded yet",
            ),
            E::UploadLimitExceeded => Self::new(
                StatusCode::BAD_REQUEST,
                "M_RESOURCE_LIMIT_EXCEEDED",
                e.to_string(),
            ),
            E::NonLocal | E::UnknownMediaId | E::Expired => Self::not_found(e.to_string()),
            E::NotCreator => Self::forbidden(e.to_string()),
            E::AlreadyUploaded | E::UploadInProgress => Self::new(
                StatusCode::CONFLICT,
                "M_CANNOT_OVERWRITE_MEDIA",
                e.to_string(),
            ),
            E::LimitExceeded { retry_after_ms } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "M_LIMIT_EXCEEDED",
                "Too Many Requests",
            )
            .with("retry_after_ms", retry_after_ms),
            // The routes replace the message of these with one naming the request path.
            E::NoThumbnails => Self::unknown(StatusCode::BAD_REQUEST, "Cannot find any thumbnails"),
            E::ThumbnailFailed => Self::unknown(StatusCode::BAD_REQUEST, e.to_string()),
            E::Internal(_) => Self::internal(e),
            E::RemoteFailed => Self::unknown(StatusCode::BAD_GATEWAY, e.to_string()),
            E::RemoteTooLarge(_) => {
                Self::new(StatusCode::BAD_GATEWAY, "M_TOO_LARGE", e.to_string())
            }
            E::RemoteNotFound { errcode, error } => Self::new(
                StatusCode::NOT_FOUND,
                static_errcode(errcode.as_deref()),
                error.unwrap_or_else(|| "Not found".into()),
            ),
            E::FederationDenied(_) => Self::forbidden(e.to_string()),
            E::RangeNotSatisfiable { .. } => Self::unknown(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "Requested range not satisfiable",
            ),
            E::Body(io) => Self::unknown(
                StatusCode::BAD_REQUEST,
                format!("Error reading upload: {io}"),
            ),
            E::Blob(b) => Self::internal(b),
            E::Db(d) => d.into(),
        }
    }
}

/// A remote server's errcode, passed on when it is one of the spec's (else `M_NOT_FOUND`).
fn static_errcode(code: Option<&str>) -> &'static str {
    const KNOWN: [&str; 8] = [
        "M_NOT_FOUND",
        "M_UNRECOGNIZED",
        "M_FORBIDDEN",
        "M_UNKNOWN",
        "M_NOT_YET_UPLOADED",
        "M_TOO_LARGE",
        "M_UNAUTHORIZED",
        "M_LIMIT_EXCEEDED",
    ];
    code.and_then(|c| KNOWN.iter().find(|k| **k == c))
        .copied()
        .unwrap_or("M_NOT_FOUND")
}

impl From<crate::services::federation::FederationError> for ApiError {
    fn from(e: crate::services::federation::FederationError) -> Self {
        use crate::services::federation::FederationError as E;
        match e {
            E::Unauthorized { status, message } => Self::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED),
                "M_UNAUTHORIZED",
                message,
            ),
            E::NotWhitelisted(_) => Self::forbidden(e.to_string()),
            other => Self::internal(other),
        }
    }
}

impl From<crate::services::rooms::RoomsError> for ApiError {
    fn from(e: crate::services::rooms::RoomsError) -> Self {
        use crate::services::rooms::RoomsError as E;
        let msg = e.to_string();
        match e {
            E::Forbidden(_) => Self::forbidden(msg),
            E::BadState(_) => Self::new(StatusCode::FORBIDDEN, "M_BAD_STATE", msg),
            E::ForbiddenBadRequest(_) => Self::new(StatusCode::BAD_REQUEST, "M_FORBIDDEN", msg),
            E::NotAllowed(_) => Self::new(StatusCode::METHOD_NOT_ALLOWED, "M_BAD_JSON", msg),
            E::NotFound(_) => Self::not_found(msg),
            E::BadJson(_) => Self::bad_json(msg),
            E::InvalidParam(_) => Self::invalid_param(msg),
            E::MissingParam(_) => Self::missing_param(msg),
            E::BadRequest(_) => Self::unknown(StatusCode::BAD_REQUEST, msg),
            E::RoomInUse(_) => Self::new(StatusCode::BAD_REQUEST, "M_ROOM_IN_USE", msg),
            E::Conflict(_) => Self::unknown(StatusCode::CONFLICT, msg),
            E::UnsupportedRoomVersion => {
                Self::new(StatusCode::BAD_REQUEST, "M_UNSUPPORTED_ROOM_VERSION", msg)
            }
            E::TooLarge => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "M_TOO_LARGE", msg),
            E::Contention => Self::new(StatusCode::SERVICE_UNAVAILABLE, "M_UNKNOWN", msg),
            E::Db(d) => d.into(),
        }
    }
}
