//! The raw client's methods, with @upstash/redis's signatures: which there are, and how each
//! one's arguments (option objects included) become the parts of its command. The arguments are
//! the caller's JS values, read through [`ArgValue`] only where the method looks at them. Every
//! part taken from the caller is handed back as given: serializing values (JSON) is V8's work,
//! in the JS layer.

/// Methods whose parts are their name and arguments as given.
const AS_GIVEN: &[&str] = &[
    "get",
    "setex",
    "psetex",
    "setnx",
    "getdel",
    "del",
    "unlink",
    "exists",
    "expireat",
    "ttl",
    "pttl",
    "persist",
    "type",
    "incr",
    "incrby",
    "incrbyfloat",
    "decr",
    "decrby",
    "keys",
    "append",
    "strlen",
    "dbsize",
    "hget",
    "hdel",
    "hexists",
    "hlen",
    "hkeys",
    "hincrby",
    "sadd",
    "srem",
    "smembers",
    "sismember",
    "scard",
    "spop",
    "zrem",
    "zscore",
    "zincrby",
    "zcard",
    "zcount",
    "zrank",
    "zremrangebyscore",
    "lpush",
    "rpush",
    "lpop",
    "rpop",
    "lrange",
    "llen",
    "ltrim",
    "publish",
    "ping",
    "echo",
    "time",
    "hmget",
    "hgetall",
];

/// Methods whose options or argument shapes [`command_parts`] reads.
const BUILT: &[&str] = &[
    "set", "expire", "pexpire", "mget", "mset", "scan", "eval", "evalsha", "hset", "zadd", "zrange",
];

/// Every method of the raw client (and of its pipelines).
pub fn method_names() -> impl Iterator<Item = &'static str> {
    AS_GIVEN.iter().chain(BUILT).copied()
}

/// A caller's JS value, as far as the builders look at it.
pub trait ArgValue: Sized {
    type Error;
    fn is_undefined(&self) -> bool;
    fn is_number(&self) -> bool;
    fn is_array(&self) -> bool;
    /// JS truthiness.
    fn truthy(&self) -> Result<bool, Self::Error>;
    /// `value?.[name]`: undefined for undefined, null and values without it.
    fn field(&self, name: &str) -> Result<Self, Self::Error>;
    /// `name in value`; false for primitives.
    fn has(&self, name: &str) -> Result<bool, Self::Error>;
    /// An array's items (nothing for anything else).
    fn items(&self) -> Result<Vec<Self>, Self::Error>;
    /// `Object.entries(value ?? {})`.
    fn entries(&self) -> Result<Vec<(String, Self)>, Self::Error>;
}

/// One part of a command: a word of its own, a count, a field name, or a caller's value
/// (missing when the caller left a required argument out, which the JS layer refuses to encode).
#[derive(Debug, PartialEq)]
pub enum Part<A> {
    Word(&'static str),
    Count(usize),
    Name(String),
    Given(A),
    Missing,
}

/// The parts of `method` called with `args`, the method's name first.
pub fn command_parts<A: ArgValue>(
    method: &'static str,
    args: Vec<A>,
) -> Result<Vec<Part<A>>, A::Error> {
    let mut args: Vec<Option<A>> = args.into_iter().map(Some).collect();
    let mut take = |i: usize| args.get_mut(i).and_then(Option::take);
    let given = |arg: Option<A>| arg.map_or(Part::Missing, Part::Given);
    let mut parts = vec![Part::Word(method)];
    match method {
        "set" => {
            parts.extend([given(take(0)), given(take(1))]);
            let opts = Opts::of(take(2));
            if !opts.flag(&mut parts, "nx", "nx")? {
                opts.flag(&mut parts, "xx", "xx")?;
            }
            opts.flag(&mut parts, "get", "get")?;
            if !opts.first_number(
                &mut parts,
                &[
                    ("ex", "ex"),
                    ("px", "px"),
                    ("exat", "exat"),
                    ("pxat", "pxat"),
                ],
            )? {
                opts.flag(&mut parts, "keepTtl", "keepttl")?;
            }
        }
        "expire" | "pexpire" => {
            parts.extend([given(take(0)), given(take(1))]);
            if let Some(option) = take(2) {
                if option.truthy()? {
                    parts.push(Part::Given(option));
                }
            }
        }
        "mget" => match take(0) {
            Some(keys) if keys.is_array() => {
                parts.extend(keys.items()?.into_iter().map(Part::Given))
            }
            first => parts.extend(
                first
                    .into_iter()
                    .chain(args.into_iter().flatten())
                    .map(Part::Given),
            ),
        },
        "mset" | "hset" => {
            let object = if method == "hset" {
                parts.push(given(take(0)));
                take(1)
            } else {
                take(0)
            };
            for (name, value) in object.map(|o| o.entries()).transpose()?.unwrap_or_default() {
                parts.extend([Part::Name(name), Part::Given(value)]);
            }
        }
        "eval" | "evalsha" => {
            parts.push(given(take(0)));
            let keys = take(1).map(|k| k.items()).transpose()?.unwrap_or_default();
            let more = take(2).map(|a| a.items()).transpose()?.unwrap_or_default();
            parts.push(Part::Count(keys.len()));
            parts.extend(keys.into_iter().chain(more).map(Part::Given));
        }
        "scan" => {
            parts.push(given(take(0)));
            let opts = Opts::of(take(1));
            opts.flag_with_value(&mut parts, "match", "match")?;
            opts.first_number(&mut parts, &[("count", "count")])?;
            opts.flag_with_value(&mut parts, "type", "type")?;
        }
        "zadd" => {
            parts.push(given(take(0)));
            let opts = Opts::of(take(1));
            if !opts.flag(&mut parts, "nx", "nx")? {
                opts.flag(&mut parts, "xx", "xx")?;
            }
            opts.flag(&mut parts, "ch", "ch")?;
            opts.flag(&mut parts, "incr", "incr")?;
            if !opts.flag(&mut parts, "lt", "lt")? {
                opts.flag(&mut parts, "gt", "gt")?;
            }
            // The options may carry a first member: `zadd(key, { nx: true, score, member })`.
            let scored = match &opts.0 {
                Some(o) => o.has("score")? && o.has("member")?,
                None => false,
            };
            let first = opts.0.filter(|_| scored);
            for item in first.into_iter().chain(args.into_iter().skip(2).flatten()) {
                parts.extend([
                    Part::Given(item.field("score")?),
                    Part::Given(item.field("member")?),
                ]);
            }
        }
        "zrange" => {
            parts.extend([given(take(0)), given(take(1)), given(take(2))]);
            let opts = Opts::of(take(3));
            opts.flag(&mut parts, "byScore", "byscore")?;
            opts.flag(&mut parts, "byLex", "bylex")?;
            opts.flag(&mut parts, "rev", "rev")?;
            let (count, offset) = (opts.field("count")?, opts.field("offset")?);
            if let (Some(offset), Some(count)) = (offset, count) {
                if !offset.is_undefined() && !count.is_undefined() {
                    parts.extend([Part::Word("limit"), Part::Given(offset), Part::Given(count)]);
                }
            }
            opts.flag(&mut parts, "withScores", "withscores")?;
        }
        _ => parts.extend(args.into_iter().flatten().map(Part::Given)),
    }
    Ok(parts)
}

/// An options argument (absent when not given).
struct Opts<A>(Option<A>);

impl<A: ArgValue> Opts<A> {
    fn of(arg: Option<A>) -> Opts<A> {
        Opts(arg)
    }

    fn field(&self, name: &str) -> Result<Option<A>, A::Error> {
        self.0.as_ref().map(|o| o.field(name)).transpose()
    }

    /// Pushes `word` when `opts[name]` is truthy; whether it was.
    fn flag(
        &self,
        parts: &mut Vec<Part<A>>,
        name: &str,
        word: &'static str,
    ) -> Result<bool, A::Error> {
        let on = match self.field(name)? {
            Some(value) => value.truthy()?,
            None => false,
        };
        if on {
            parts.push(Part::Word(word));
        }
        Ok(on)
    }

    /// Pushes `word` and `opts[name]` when that is truthy.
    fn flag_with_value(
        &self,
        parts: &mut Vec<Part<A>>,
        name: &str,
        word: &'static str,
    ) -> Result<(), A::Error> {
        if let Some(value) = self.field(name)? {
            if value.truthy()? {
                parts.extend([Part::Word(word), Part::Given(value)]);
            }
        }
        Ok(())
    }

    /// Pushes the first of `names` whose value is a number, with its word; whether one was.
    fn first_number(
        &self,
        parts: &mut Vec<Part<A>>,
        names: &[(&str, &'static str)],
    ) -> Result<bool, A::Error> {
        for &(name, word) in names {
            if let Some(value) = self.field(name)? {
                if value.is_number() {
                    parts.extend([Part::Word(word), Part::Given(value)]);
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::{command_parts, method_names, ArgValue, Part};

    /// JS values, as the tests write them.
    #[derive(Clone, Debug, PartialEq)]
    enum V {
        Undefined,
        Null,
        Num(f64),
        Str(&'static str),
        Bool(bool),
        Arr(Vec<V>),
        Obj(Vec<(&'static str, V)>),
    }
    use V::*;

    impl ArgValue for V {
        type Error = ();
        fn is_undefined(&self) -> bool {
            *self == Undefined
        }
        fn is_number(&self) -> bool {
            matches!(self, Num(_))
        }
        fn is_array(&self) -> bool {
            matches!(self, Arr(_))
        }
        fn truthy(&self) -> Result<bool, ()> {
            Ok(match self {
                Undefined | Null => false,
                Num(n) => *n != 0.0 && !n.is_nan(),
                Str(s) => !s.is_empty(),
                Bool(b) => *b,
                Arr(_) | Obj(_) => true,
            })
        }
        fn field(&self, name: &str) -> Result<V, ()> {
            Ok(match self {
                Obj(fields) => fields
                    .iter()
                    .find(|f| f.0 == name)
                    .map_or(Undefined, |f| f.1.clone()),
                _ => Undefined,
            })
        }
        fn has(&self, name: &str) -> Result<bool, ()> {
            Ok(matches!(self, Obj(fields) if fields.iter().any(|f| f.0 == name)))
        }
        fn items(&self) -> Result<Vec<V>, ()> {
            Ok(match self {
                Arr(items) => items.clone(),
                _ => vec![],
            })
        }
        fn entries(&self) -> Result<Vec<(String, V)>, ()> {
            Ok(match self {
                Obj(fields) => fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
                _ => vec![],
            })
        }
    }

    /// The parts as text: words and counts as they are, given values as `<value>`.
    fn parts(method: &'static str, args: Vec<V>) -> Vec<String> {
        command_parts(method, args)
            .unwrap()
            .into_iter()
            .map(|part| match part {
                Part::Word(w) => w.to_string(),
                Part::Count(n) => n.to_string(),
                Part::Name(name) => name,
                Part::Given(Str(s)) => format!("<{s}>"),
                Part::Given(Num(n)) => format!("<{n}>"),
                Part::Given(other) => format!("<{other:?}>"),
                Part::Missing => "<missing>".into(),
            })
            .collect()
    }

    #[test]
    fn set_options_in_redis_order_one_expiry_at_most() {
        let opts = Obj(vec![
            ("keepTtl", Bool(true)),
            ("px", Num(5.0)),
            ("ex", Str("9")),
            ("get", Bool(true)),
            ("xx", Num(1.0)),
        ]);
        assert_eq!(
            parts("set", vec![Str("k"), Str("v"), opts]),
            ["set", "<k>", "<v>", "xx", "get", "px", "<5>"]
        );
        let keep = Obj(vec![
            ("keepTtl", Bool(true)),
            ("nx", Bool(true)),
            ("xx", Bool(true)),
        ]);
        assert_eq!(
            parts("set", vec![Str("k"), Str("v"), keep]),
            ["set", "<k>", "<v>", "nx", "keepttl"]
        );
        assert_eq!(
            parts("set", vec![Str("k"), Str("v"), Undefined]),
            ["set", "<k>", "<v>"]
        );
        assert_eq!(parts("set", vec![Str("k")]), ["set", "<k>", "<missing>"]);
    }

    #[test]
    fn zadd_members_from_the_options_and_the_rest() {
        let member = |score, m| Obj(vec![("score", Num(score)), ("member", Str(m))]);
        assert_eq!(
            parts("zadd", vec![Str("z"), member(1.0, "a"), member(2.0, "b")]),
            ["zadd", "<z>", "<1>", "<a>", "<2>", "<b>"]
        );
        let opts = Obj(vec![
            ("gt", Bool(true)),
            ("ch", Bool(true)),
            ("xx", Bool(true)),
            ("incr", Bool(false)),
        ]);
        assert_eq!(
            parts("zadd", vec![Str("z"), opts, member(3.0, "c")]),
            ["zadd", "<z>", "xx", "ch", "gt", "<3>", "<c>"]
        );
    }

    #[test]
    fn zrange_and_scan_options() {
        let opts = Obj(vec![
            ("withScores", Bool(true)),
            ("offset", Num(1.0)),
            ("count", Num(2.0)),
            ("rev", Bool(true)),
            ("byScore", Bool(true)),
        ]);
        assert_eq!(
            parts("zrange", vec![Str("z"), Num(0.0), Str("+inf"), opts]),
            [
                "zrange",
                "<z>",
                "<0>",
                "<+inf>",
                "byscore",
                "rev",
                "limit",
                "<1>",
                "<2>",
                "withscores"
            ]
        );
        let no_offset = Obj(vec![("count", Num(2.0))]);
        assert_eq!(
            parts("zrange", vec![Str("z"), Num(0.0), Num(1.0), no_offset]),
            ["zrange", "<z>", "<0>", "<1>"]
        );
        let opts = Obj(vec![
            ("type", Str("hash")),
            ("count", Str("10")),
            ("match", Str("a*")),
        ]);
        assert_eq!(
            parts("scan", vec![Str("0"), opts]),
            ["scan", "<0>", "match", "<a*>", "type", "<hash>"]
        );
        assert_eq!(
            parts("scan", vec![Str("0"), Obj(vec![("count", Num(10.0))])]),
            ["scan", "<0>", "count", "<10>"]
        );
    }

    #[test]
    fn arrays_objects_and_counts() {
        assert_eq!(
            parts("mget", vec![Arr(vec![Str("a"), Str("b")]), Str("ignored")]),
            ["mget", "<a>", "<b>"]
        );
        assert_eq!(
            parts("mget", vec![Str("a"), Str("b")]),
            ["mget", "<a>", "<b>"]
        );
        let kv = Obj(vec![("f", Num(1.0)), ("g", Null)]);
        assert_eq!(
            parts("hset", vec![Str("h"), kv.clone()]),
            ["hset", "<h>", "f", "<1>", "g", "<Null>"]
        );
        assert_eq!(parts("mset", vec![kv]), ["mset", "f", "<1>", "g", "<Null>"]);
        assert_eq!(parts("mset", vec![Null]), ["mset"]);
        let keys = Arr(vec![Str("k1"), Str("k2")]);
        assert_eq!(
            parts("eval", vec![Str("return 1"), keys, Arr(vec![Num(7.0)])]),
            ["eval", "<return 1>", "2", "<k1>", "<k2>", "<7>"]
        );
        assert_eq!(
            parts("evalsha", vec![Str("abc")]),
            ["evalsha", "<abc>", "0"]
        );
        assert_eq!(
            parts("expire", vec![Str("k"), Num(5.0), Str("NX")]),
            ["expire", "<k>", "<5>", "<NX>"]
        );
        assert_eq!(
            parts("pexpire", vec![Str("k"), Num(5.0), Str("")]),
            ["pexpire", "<k>", "<5>"]
        );
        assert_eq!(
            parts("del", vec![Str("a"), Str("b")]),
            ["del", "<a>", "<b>"]
        );
    }

    #[test]
    fn every_method_once() {
        let mut names: Vec<_> = method_names().collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
