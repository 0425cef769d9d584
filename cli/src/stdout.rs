//! Writing results to standard output without panicking when the reader goes away.

use std::io::{ErrorKind, Write};

use serde::Serialize;

use crate::error::Error;

/// Writes `text` as it is. A closed pipe (`kubectl modeldeploy list | head -1`) is not an
/// error: the reader has what it wanted.
pub fn write(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != ErrorKind::BrokenPipe => Err(Error::Stdout { source: error }),
        _ => Ok(()),
    }
}

/// Writes `value` as indented JSON and a newline.
pub fn write_json(value: &impl Serialize, what: &'static str) -> Result<(), Error> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|source| Error::Json { what, source })?;
    text.push('\n');
    write(&text)
}
