use bytes::Bytes;

/// One command: its name followed by its arguments, all as bytes (Redis is binary-safe).
#[derive(Clone, Debug, PartialEq)]
pub struct Cmd {
    args: Vec<Bytes>,
}

/// Anything that can be a command argument. Numbers keep their own text (`100`, never `100.0`).
pub trait ToArg {
    fn to_arg(self) -> Bytes;
}

impl ToArg for Bytes {
    fn to_arg(self) -> Bytes {
        self
    }
}
impl ToArg for &Bytes {
    fn to_arg(self) -> Bytes {
        self.clone()
    }
}
impl ToArg for &str {
    fn to_arg(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}
impl ToArg for String {
    fn to_arg(self) -> Bytes {
        Bytes::from(self)
    }
}
impl ToArg for &String {
    fn to_arg(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}
impl ToArg for &[u8] {
    fn to_arg(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}
impl ToArg for Vec<u8> {
    fn to_arg(self) -> Bytes {
        Bytes::from(self)
    }
}
macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn to_arg(self) -> Bytes {
                Bytes::from(self.to_string())
            }
        }
    )*};
}
int_arg!(i64, u64, u32, usize);

impl Cmd {
    /// A command named by a literal: the name is shared, not copied.
    pub fn new(name: &'static str) -> Cmd {
        Cmd {
            args: vec![Bytes::from_static(name.as_bytes())],
        }
    }

    /// A command from raw parts (the raw client's path); `parts[0]` is the command name.
    pub fn from_parts(parts: Vec<Bytes>) -> Cmd {
        Cmd { args: parts }
    }

    pub fn arg(mut self, arg: impl ToArg) -> Cmd {
        self.args.push(arg.to_arg());
        self
    }

    pub fn args<A: ToArg>(mut self, args: impl IntoIterator<Item = A>) -> Cmd {
        self.args.extend(args.into_iter().map(ToArg::to_arg));
        self
    }

    /// Name first, then the arguments.
    pub fn parts(&self) -> &[Bytes] {
        &self.args
    }

    /// `"SET k v"` as a command, split on whitespace; for tests and examples.
    pub fn from_line(line: &str) -> Cmd {
        Cmd::from_parts(line.split_whitespace().map(ToArg::to_arg).collect())
    }

    pub fn name(&self) -> String {
        self.args
            .first()
            .map(|n| String::from_utf8_lossy(n).to_ascii_uppercase())
            .unwrap_or_default()
    }
}
