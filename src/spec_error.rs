//! Why a TOML spec file (a matrix, an external target) is not usable: one error type for
//! every spec reader, so each names the file, and the line and field where it can.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecFileError {
    /// The file could not be read.
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    /// TOML syntax or shape; the toml crate's message carries line and column.
    #[error("{file}: {message}")]
    Toml { file: String, message: String },
    /// A value that parsed but means nothing usable.
    #[error("{file}:{line}: field {field}: {message}")]
    Field {
        file: String,
        line: usize,
        field: String,
        message: String,
    },
}
