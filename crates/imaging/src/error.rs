//! Errors of the thumbnailer.

/// What went wrong, as far as the server needs to know to answer the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request cannot be thumbnailed: source media type, thumbnail type, method or size.
    Unsupported,
    /// The source (or the requested thumbnail) is over a configured limit.
    TooLarge,
    /// The bytes are not a readable image of a supported format.
    Undecodable,
    /// Our own failure: an encoder refused the pixels, or a codec panicked.
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    #[error("media type {0:?} cannot be thumbnailed")]
    UnsupportedType(String),
    #[error("thumbnail type {0:?} cannot be produced")]
    UnsupportedOutput(String),
    #[error("unknown thumbnail method {0:?}")]
    UnknownMethod(String),
    #[error("thumbnail width and height must be positive")]
    EmptySize,
    #[error("image is {width}x{height} pixels, at or over the limit of {max} pixels")]
    TooManyPixels { width: u64, height: u64, max: u64 },
    #[error("decoding needs {needed} bytes, over the limit of {max} bytes")]
    TooMuchMemory { needed: u64, max: u64 },
    #[error("image has {scans} scans, over the limit of {max}")]
    TooManyScans { scans: u32, max: u32 },
    #[error("over a decoding limit: {0}")]
    OverLimit(String),
    #[error("not a jpeg, png, gif or webp image")]
    UnknownFormat,
    #[error("image could not be decoded: {0}")]
    Undecodable(String),
    #[error("thumbnail could not be encoded: {0}")]
    Encode(String),
    #[error("image codec panicked: {0}")]
    Panicked(String),
}

impl ImagingError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::UnsupportedType(_)
            | Self::UnsupportedOutput(_)
            | Self::UnknownMethod(_)
            | Self::EmptySize => ErrorKind::Unsupported,
            Self::TooManyPixels { .. }
            | Self::TooMuchMemory { .. }
            | Self::TooManyScans { .. }
            | Self::OverLimit(_) => ErrorKind::TooLarge,
            Self::UnknownFormat | Self::Undecodable(_) => ErrorKind::Undecodable,
            Self::Encode(_) | Self::Panicked(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn decode(e: impl std::fmt::Display) -> Self {
        Self::Undecodable(e.to_string())
    }

    pub(crate) fn encode(e: impl std::fmt::Display) -> Self {
        Self::Encode(e.to_string())
    }
}

/// Maps an `image` crate error, keeping its limit errors apart from corrupt data.
impl From<image::ImageError> for ImagingError {
    fn from(e: image::ImageError) -> Self {
        match e {
            image::ImageError::Limits(l) => Self::OverLimit(l.to_string()),
            image::ImageError::Unsupported(u) => Self::Undecodable(u.to_string()),
            other => Self::decode(other),
        }
    }
}
