//! The values a key can hold, and typed access to them.

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::Bytes;

use super::sorted_set::SortedSet;

pub(crate) type Hash = HashMap<Bytes, Bytes>;
pub(crate) type Set = HashSet<Bytes>;
pub(crate) type List = VecDeque<Bytes>;

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Str(Bytes),
    Hash(Hash),
    Set(Set),
    ZSet(SortedSet),
    List(List),
}

impl Value {
    /// The name TYPE answers and SCAN's TYPE filter takes.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::List(_) => "list",
        }
    }

    /// Redis never keeps an empty aggregate; an empty string is a real value.
    pub(crate) fn is_empty_aggregate(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::List(l) => l.is_empty(),
        }
    }
}

/// One of the value types, so that the keyspace can hand out `&mut Hash` and friends (or
/// WRONGTYPE) through a single generic accessor.
pub(crate) trait Kind: Default + Sized {
    fn of(value: &Value) -> Option<&Self>;
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
    fn wrap(self) -> Value;
}

macro_rules! kind {
    ($t:ty, $variant:ident) => {
        impl Kind for $t {
            fn of(value: &Value) -> Option<&Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn of_mut(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(self) -> Value {
                Value::$variant(self)
            }
        }
    };
}

kind!(Bytes, Str);
kind!(Hash, Hash);
kind!(Set, Set);
kind!(SortedSet, ZSet);
kind!(List, List);
