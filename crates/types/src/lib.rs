//! Plain values shared by every mxcd crate: identifiers, sizes, durations, token hashes.
//!
//! Nothing in this crate performs I/O.

pub mod duration;
pub mod localpart;
pub mod size;
pub mod time;
pub mod token;

pub use duration::Duration;
pub use localpart::{LocalpartError, validate_new_localpart};
pub use size::ByteSize;
pub use token::{AccessToken, TokenHash, random_string};
