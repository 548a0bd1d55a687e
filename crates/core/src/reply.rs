use bytes::Bytes;

/// A RESP2-shaped reply, the common currency of every backend. Error replies are not a variant:
/// they travel as `Err(Error)` so that `?` works and pipelines keep per-item errors.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Nil,
    Int(i64),
    Bulk(Bytes),
    Status(&'static str),
    Array(Vec<Reply>),
}

impl Reply {
    pub fn bulk(value: impl Into<Bytes>) -> Reply {
        Reply::Bulk(value.into())
    }

    pub fn ok() -> Reply {
        Reply::Status("OK")
    }

    /// The bytes of a bulk or status reply, `None` for nil.
    pub fn into_bytes(self) -> Option<Bytes> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Status(s) => Some(Bytes::from_static(s.as_bytes())),
            Reply::Int(i) => Some(Bytes::from(i.to_string())),
            _ => None,
        }
    }

    /// Integer replies, and bulk strings holding an integer (as scripts and REST may return).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            Reply::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }

    pub fn into_array(self) -> Option<Vec<Reply>> {
        match self {
            Reply::Array(items) => Some(items),
            _ => None,
        }
    }
}
