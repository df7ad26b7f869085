//! Validation of user-ID localparts for *new* accounts.
//!
//! Existing (historical) user IDs are accepted as they are stored; only registration and account
//! creation go through [`validate_new_localpart`], which follows Synapse's `check_username`.

/// Longest user ID, `@localpart:server_name` included (spec and Synapse `MAX_USERID_LENGTH`).
pub const MAX_USER_ID_LENGTH: usize = 255;

/// Why a localpart may not be registered. The `Display` texts are Synapse's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalpartError {
    #[error("User ID can only contain characters a-z, 0-9, or '=_-./+'")]
    InvalidCharacters,
    #[error("User ID cannot be empty")]
    Empty,
    #[error("User ID may not begin with _")]
    LeadingUnderscore,
    #[error("User ID may not be longer than {MAX_USER_ID_LENGTH} characters")]
    TooLong,
}

/// True when `c` may appear in a new localpart (`a-z 0-9 = _ - . / +`).
fn is_valid_char(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | '=' | '_' | '-' | '.' | '/' | '+')
}

/// Checks a localpart for a new account on `server_name`, in Synapse's order.
pub fn validate_new_localpart(localpart: &str, server_name: &str) -> Result<(), LocalpartError> {
    if !localpart.chars().all(is_valid_char) {
        return Err(LocalpartError::InvalidCharacters);
    }
    if localpart.is_empty() {
        return Err(LocalpartError::Empty);
    }
    if localpart.starts_with('_') {
        return Err(LocalpartError::LeadingUnderscore);
    }
    // "@" + localpart + ":" + server_name
    if localpart.len() + server_name.len() + 2 > MAX_USER_ID_LENGTH {
        return Err(LocalpartError::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet() {
        assert_eq!(validate_new_localpart("alice", "example.org"), Ok(()));
        assert_eq!(
            validate_new_localpart("a.b_c-d=e/f+1", "example.org"),
            Ok(())
        );
    }

    #[test]
    fn refuses_in_synapse_order() {
        use LocalpartError::*;
        let cases = [
            ("Alice", InvalidCharacters),
            ("al ice", InvalidCharacters),
            ("a:b", InvalidCharacters),
            ("é", InvalidCharacters),
            ("", Empty),
            ("_bot", LeadingUnderscore),
        ];
        for (lp, want) in cases {
            assert_eq!(
                validate_new_localpart(lp, "example.org"),
                Err(want),
                "{lp:?}"
            );
        }
    }

    #[test]
    fn counts_the_whole_user_id() {
        let server = "example.org"; // 11 chars: "@" + lp + ":" + 11 <= 255 → lp <= 242
        assert_eq!(validate_new_localpart(&"a".repeat(242), server), Ok(()));
        assert_eq!(
            validate_new_localpart(&"a".repeat(243), server),
            Err(LocalpartError::TooLong)
        );
    }
}
