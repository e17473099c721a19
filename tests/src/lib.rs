//! Cross-crate tests live here once the server and simulator issues land.
