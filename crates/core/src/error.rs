use std::fmt;

/// What went wrong, as the JS layer exposes it in the `code` property of a strict-mode error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server (or the embedded store) answered the command with an error, e.g. WRONGTYPE.
    Command,
    /// The embedded store does not implement the command.
    Unsupported,
    /// The caller passed something the command cannot take.
    InvalidArgument,
    /// The backend could not be reached or the connection broke.
    Connection,
    /// The call did not finish within its deadline.
    Timeout,
    /// The backend answered something that is not a valid reply.
    Protocol,
    /// A bug on our side, including a caught panic.
    Internal,
    /// The circuit breaker is open: the call failed fast without touching the network.
    CircuitOpen,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Command => "ERR_COMMAND",
            ErrorKind::Unsupported => "ERR_UNSUPPORTED",
            ErrorKind::InvalidArgument => "ERR_INVALID_ARGUMENT",
            ErrorKind::Connection => "ERR_CONNECTION",
            ErrorKind::Timeout => "ERR_TIMEOUT",
            ErrorKind::Protocol => "ERR_PROTOCOL",
            ErrorKind::Internal => "ERR_INTERNAL",
            ErrorKind::CircuitOpen => "ERR_CIRCUIT_OPEN",
        }
    }
}

/// An error with a kind and a message. Messages never carry values, codes or secrets.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A Redis-style error reply, e.g. `Error::command("WRONGTYPE Operation against ...")`.
    pub fn command(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Command, message)
    }

    /// A failure of the path to the server (not an answer from it): what trips the breaker.
    pub fn is_transport(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::Protocol
        )
    }

    pub fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, message)
    }

    pub fn wrong_type() -> Error {
        Error::command("WRONGTYPE Operation against a key holding the wrong kind of value")
    }

    pub fn not_integer() -> Error {
        Error::command("ERR value is not an integer or out of range")
    }

    pub fn syntax() -> Error {
        Error::command("ERR syntax error")
    }

    pub fn wrong_arity(command: &str) -> Error {
        Error::command(format!(
            "ERR wrong number of arguments for '{}' command",
            command.to_ascii_lowercase()
        ))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for Error {}
