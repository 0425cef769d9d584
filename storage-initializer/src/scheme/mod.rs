//! One module per storage URI scheme; each turns the URI into something `objects` or its own
//! client can download.

pub(crate) mod gcs;
pub(crate) mod hf;
pub(crate) mod https;
pub(crate) mod s3;
