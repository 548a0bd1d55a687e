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
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Command,
        ErrorKind::Unsupported,
        ErrorKind::InvalidArgument,
        ErrorKind::Connection,
        ErrorKind::Timeout,
        ErrorKind::Protocol,
        ErrorKind::Internal,
        ErrorKind::CircuitOpen,
    ];

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
    /// A server error reply's kind as redis-rs types it (NOSCRIPT, MOVED, ASK, ...), for the
    /// decisions taken on it (retry by EVAL, refetch the slots): never read from `message`.
    pub server: Option<redis::ServerErrorKind>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            server: None,
        }
    }

    /// A server's error reply of a kind redis-rs knows, e.g. NOSCRIPT.
    pub fn server(server: redis::ServerErrorKind, message: impl Into<String>) -> Error {
        Error {
            server: Some(server),
            ..Error::command(message)
        }
    }

    /// Whether the server answered with an error reply of this kind.
    pub fn is_server(&self, server: redis::ServerErrorKind) -> bool {
        self.server == Some(server)
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
