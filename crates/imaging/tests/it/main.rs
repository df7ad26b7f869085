//! Thumbnails of real files (tests/fixtures at the repository root) and of hostile inputs. Every
//! output is decoded again: size, format, pixels and frames are checked, not just success.

mod animated;
mod hostile;
mod stills;
mod support;
