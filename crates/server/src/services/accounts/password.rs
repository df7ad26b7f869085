//! Password hashing with Argon2id, off the async runtime.

use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};

use super::AccountsError;

/// Hashes a password into a PHC string (`$argon2id$…`).
pub(super) async fn hash(password: &str) -> Result<String, AccountsError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AccountsError::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| AccountsError::Hashing(e.to_string()))?
}

/// Checks a password against a stored PHC string. A malformed stored hash never matches.
pub(super) async fn verify(password: &str, stored: &str) -> Result<bool, AccountsError> {
    let (password, stored) = (password.to_owned(), stored.to_owned());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .map_err(|e| AccountsError::Hashing(e.to_string()))
}

/// Spends as long as a verification would, so unknown users cannot be told apart by timing.
pub(super) async fn burn_time(password: &str) {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                         qR3/Z3n8Z3L0mQ3d7Yx8mS0a2l0m7bGm1mJ0P0a1b2c";
    let _ = verify(password, DUMMY).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("s3cret").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("s3cret", &h).await.unwrap());
        assert!(!verify("wrong", &h).await.unwrap());
        assert!(!verify("s3cret", "not a hash").await.unwrap());
    }
}
