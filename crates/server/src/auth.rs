//! Access-token authentication as Synapse does it (`synapse/api/auth`): where the token may
//! come from, the 401/403 table, and the admin check. Handlers take [`AuthUser`] or
//! [`AdminUser`] as their first argument so authentication precedes any parameter validation.

use std::sync::Arc;

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};
use mxcd_types::TokenHash;

use crate::{
    error::ApiError,
    extract::QueryParams,
    services::accounts::{self, AuthError, Requester},
};

/// Extracts the access token from the `Authorization` header or the `access_token` query
/// parameter, refusing ambiguous requests exactly as Synapse does.
pub fn token_from_request(headers: &HeaderMap, query: &QueryParams) -> Result<String, AuthError> {
    let auth: Vec<_> = headers.get_all(header::AUTHORIZATION).iter().collect();
    let from_query = query.get("access_token");
    if auth.is_empty() {
        return from_query
            .map(str::to_owned)
            .ok_or(AuthError::MissingToken("Missing access token"));
    }
    if from_query.is_some() {
        return Err(AuthError::MissingToken(
            "Mixing Authorization headers and access_token query parameters.",
        ));
    }
    if auth.len() > 1 {
        return Err(AuthError::MissingToken("Too many Authorization headers."));
    }
    let value = auth[0]
        .to_str()
        .map_err(|_| AuthError::MissingToken("Invalid Authorization header."))?;
    match value.split(' ').collect::<Vec<_>>().as_slice() {
        ["Bearer", token] => Ok((*token).to_owned()),
        _ => Err(AuthError::MissingToken("Invalid Authorization header.")),
    }
}

/// The client's address and user agent, for the `whois` record.
fn client_info(parts: &Parts) -> (Option<String>, Option<String>) {
    let ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let ua = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (ip, ua)
}

/// An authenticated user or guest (Synapse's `allow_guest=True`, as on media downloads).
#[derive(Clone, Debug)]
pub struct AuthUserOrGuest(pub Requester);

impl<S> FromRequestParts<S> for AuthUserOrGuest
where
    S: Send + Sync,
    Arc<accounts::Service>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let query = QueryParams::parse(parts.uri.query().unwrap_or(""));
        let token = token_from_request(&parts.headers, &query)?;
        let (ip, ua) = client_info(parts);
        let svc = Arc::<accounts::Service>::from_ref(state);
        let requester = svc.authenticate(&TokenHash::of(&token), ip, ua).await?;
        Ok(Self(requester))
    }
}

/// An authenticated user (guests refused).
#[derive(Clone, Debug)]
pub struct AuthUser(pub Requester);

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Arc<accounts::Service>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let AuthUserOrGuest(requester) = AuthUserOrGuest::from_request_parts(parts, state).await?;
        if requester.is_guest {
            return Err(AuthError::GuestForbidden.into());
        }
        Ok(Self(requester))
    }
}

/// An authenticated server admin.
#[derive(Clone, Debug)]
pub struct AdminUser(pub Requester);

impl<S> FromRequestParts<S> for AdminUser
where
    S: Send + Sync,
    Arc<accounts::Service>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let AuthUser(requester) = AuthUser::from_request_parts(parts, state).await?;
        if !requester.admin {
            return Err(AuthError::NotAdmin.into());
        }
        Ok(Self(requester))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn token_sources() {
        let none = QueryParams::default();
        let q = QueryParams::parse("access_token=qtok");
        assert_eq!(
            token_from_request(&headers(&["Bearer abc"]), &none),
            Ok("abc".into())
        );
        assert_eq!(token_from_request(&headers(&[]), &q), Ok("qtok".into()));
        let missing = |m| Err(AuthError::MissingToken(m));
        assert_eq!(
            token_from_request(&headers(&[]), &none),
            missing("Missing access token")
        );
        assert_eq!(
            token_from_request(&headers(&["Bearer abc"]), &q),
            missing("Mixing Authorization headers and access_token query parameters.")
        );
        assert_eq!(
            token_from_request(&headers(&["Bearer a", "Bearer b"]), &none),
            missing("Too many Authorization headers.")
        );
        for bad in [
            "Basic abc",
            "Bearer",
            "Bearer a b",
            "bearer abc",
            "Bearer  abc",
        ] {
            assert_eq!(
                token_from_request(&headers(&[bad]), &none),
                missing("Invalid Authorization header."),
                "{bad}"
            );
        }
    }
}
