//! The sorted set: a member → score map for lookups, and a set ordered by (score, member) for
//! ranges. Ranks are found by walking the ordered set (O(rank)); the embedded store serves small
//! data sets, where that is cheaper than maintaining an order-statistics tree.

use std::cmp::Ordering;
use std::collections::btree_set;
use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use bytes::Bytes;

use super::commands::args::parse_f64;

/// A score with a total order. Scores are never NaN (every way in rejects it), so the partial
/// order is total; -0 and 0 compare equal, as they do in Redis.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Score(pub(crate) f64);

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        debug_assert!(!self.0.is_nan() && !other.0.is_nan());
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Score {}

#[derive(Clone, Debug, Default)]
pub(crate) struct SortedSet {
    scores: HashMap<Bytes, f64>,
    order: BTreeSet<(Score, Bytes)>,
}

/// Items in (score, member) order, either direction.
pub(crate) type Items<'a> = std::iter::Map<
    btree_set::Range<'a, (Score, Bytes)>,
    fn(&'a (Score, Bytes)) -> (&'a Bytes, f64),
>;

fn items<'a>(range: btree_set::Range<'a, (Score, Bytes)>) -> Items<'a> {
    fn item(entry: &(Score, Bytes)) -> (&Bytes, f64) {
        (&entry.1, entry.0 .0)
    }
    range.map(item as fn(&'a (Score, Bytes)) -> (&'a Bytes, f64))
}

impl SortedSet {
    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Adds or re-scores `member`; true when it was not there before.
    pub(crate) fn insert(&mut self, member: Bytes, score: f64) -> bool {
        debug_assert!(!score.is_nan());
        match self.scores.insert(member.clone(), score) {
            Some(old) => {
                // Compare bits: -0 and 0 are equal scores but reply differently.
                if old.to_bits() != score.to_bits() {
                    self.order.remove(&(Score(old), member.clone()));
                    self.order.insert((Score(score), member));
                }
                false
            }
            None => {
                self.order.insert((Score(score), member));
                true
            }
        }
    }

    pub(crate) fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove_entry(member) {
            Some((member, score)) => {
                self.order.remove(&(Score(score), member));
                true
            }
            None => false,
        }
    }

    /// 0-based position in ascending order.
    pub(crate) fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let key = (Score(score), Bytes::copy_from_slice(member));
        Some(self.order.range(..key).count())
    }

    pub(crate) fn iter(&self) -> Items<'_> {
        items(self.order.range::<(Score, Bytes), _>(..))
    }

    pub(crate) fn range_by_score(&self, range: &ScoreRange) -> Items<'_> {
        // Members sort after the empty member, so (score, "") bounds every member of that score.
        let floor = |score: f64| (Score(score), Bytes::new());
        let lower = if range.min_exclusive {
            if range.min == f64::INFINITY {
                return self.empty();
            }
            floor(range.min.next_up())
        } else {
            floor(range.min)
        };
        let upper = if range.max_exclusive {
            Bound::Excluded(floor(range.max))
        } else if range.max == f64::INFINITY {
            Bound::Unbounded
        } else {
            Bound::Excluded(floor(range.max.next_up()))
        };
        if let Bound::Excluded(upper) = &upper {
            // BTreeSet::range panics on an inverted range.
            if lower.0 > upper.0 {
                return self.empty();
            }
        }
        items(self.order.range((Bound::Included(lower), upper)))
    }

    /// Members within a lexicographic range; meaningful, as in Redis, when all scores are equal.
    pub(crate) fn range_by_lex<'a>(
        &'a self,
        range: &'a LexRange,
    ) -> impl DoubleEndedIterator<Item = (&'a Bytes, f64)> + 'a {
        self.iter()
            .filter(move |(member, _)| range.contains(member))
    }

    fn empty(&self) -> Items<'_> {
        let at = (Score(0.0), Bytes::new());
        items(
            self.order
                .range((Bound::Included(at.clone()), Bound::Excluded(at))),
        )
    }
}

/// A score interval as ZRANGEBYSCORE and friends take it: `1.5`, `(1.5`, `-inf`, `+inf`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ScoreRange {
    pub(crate) min: f64,
    pub(crate) min_exclusive: bool,
    pub(crate) max: f64,
    pub(crate) max_exclusive: bool,
}

impl ScoreRange {
    pub(crate) fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, min_exclusive) = parse_score_bound(min)?;
        let (max, max_exclusive) = parse_score_bound(max)?;
        Some(ScoreRange {
            min,
            min_exclusive,
            max,
            max_exclusive,
        })
    }
}

fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    match arg.split_first() {
        Some((b'(', rest)) => Some((parse_f64(rest)?, true)),
        _ => Some((parse_f64(arg)?, false)),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LexBound {
    Min,
    Max,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

/// A lexicographic interval as ZRANGEBYLEX takes it: `-`, `+`, `[a`, `(a`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    pub(crate) fn parse(min: &Bytes, max: &Bytes) -> Option<LexRange> {
        Some(LexRange {
            min: parse_lex_bound(min)?,
            max: parse_lex_bound(max)?,
        })
    }

    fn contains(&self, member: &[u8]) -> bool {
        let above_min = match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(b) => member >= b.as_ref(),
            LexBound::Exclusive(b) => member > b.as_ref(),
        };
        let below_max = match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(b) => member <= b.as_ref(),
            LexBound::Exclusive(b) => member < b.as_ref(),
        };
        above_min && below_max
    }
}

fn parse_lex_bound(arg: &Bytes) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::Max),
        b'-' if arg.len() == 1 => Some(LexBound::Min),
        b'[' => Some(LexBound::Inclusive(arg.slice(1..))),
        b'(' => Some(LexBound::Exclusive(arg.slice(1..))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[(&str, f64)]) -> SortedSet {
        let mut z = SortedSet::default();
        for (m, s) in items {
            z.insert(Bytes::copy_from_slice(m.as_bytes()), *s);
        }
        z
    }

    fn members<'a>(it: impl Iterator<Item = (&'a Bytes, f64)>) -> Vec<String> {
        it.map(|(m, _)| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    fn range(min: &str, max: &str) -> ScoreRange {
        ScoreRange::parse(min.as_bytes(), max.as_bytes()).unwrap()
    }

    #[test]
    fn insert_rescore_remove_keep_both_indexes_in_step() {
        let mut z = set(&[("a", 1.0), ("b", 2.0), ("c", 3.0)]);
        assert!(!z.insert(Bytes::from("a"), 5.0));
        assert_eq!(members(z.iter()), ["b", "c", "a"]);
        assert_eq!(z.rank(b"a"), Some(2));
        assert_eq!(z.rank(b"b"), Some(0));
        assert_eq!(z.rank(b"zz"), None);
        assert!(z.remove(b"c"));
        assert!(!z.remove(b"c"));
        assert_eq!(z.len(), 2);
        assert_eq!(z.order.len(), 2);
        assert_eq!(z.score(b"a"), Some(5.0));
    }

    #[test]
    fn equal_scores_order_by_member() {
        let z = set(&[("b", 1.0), ("a", 1.0), ("c", 0.0)]);
        assert_eq!(members(z.iter()), ["c", "a", "b"]);
        assert_eq!(members(z.iter().rev()), ["b", "a", "c"]);
    }

    #[test]
    fn score_ranges() {
        let z = set(&[("a", 1.0), ("b", 2.0), ("c", 3.0), ("i", f64::INFINITY)]);
        assert_eq!(members(z.range_by_score(&range("1", "2"))), ["a", "b"]);
        assert_eq!(members(z.range_by_score(&range("(1", "2"))), ["b"]);
        assert_eq!(members(z.range_by_score(&range("(1", "(3"))), ["b"]);
        assert_eq!(
            members(z.range_by_score(&range("-inf", "+inf"))),
            ["a", "b", "c", "i"]
        );
        assert_eq!(members(z.range_by_score(&range("(3", "+inf"))), ["i"]);
        assert_eq!(members(z.range_by_score(&range("3", "(inf"))), ["c"]);
        assert!(members(z.range_by_score(&range("3", "1"))).is_empty());
        assert!(members(z.range_by_score(&range("(2", "2"))).is_empty());
        assert!(members(z.range_by_score(&range("(inf", "inf"))).is_empty());
        assert_eq!(
            members(z.range_by_score(&range("2", "3")).rev()),
            ["c", "b"]
        );
        assert!(ScoreRange::parse(b"x", b"1").is_none());
        assert!(ScoreRange::parse(b"(", b"1").is_none());
    }

    #[test]
    fn lex_ranges() {
        let z = set(&[("a", 0.0), ("b", 0.0), ("c", 0.0), ("d", 0.0)]);
        let r = |min: &str, max: &str| {
            LexRange::parse(&Bytes::from(min.to_owned()), &Bytes::from(max.to_owned())).unwrap()
        };
        assert_eq!(members(z.range_by_lex(&r("-", "+"))), ["a", "b", "c", "d"]);
        assert_eq!(members(z.range_by_lex(&r("[b", "(d"))), ["b", "c"]);
        assert_eq!(members(z.range_by_lex(&r("(a", "[c"))), ["b", "c"]);
        assert!(members(z.range_by_lex(&r("+", "-"))).is_empty());
        assert!(LexRange::parse(&Bytes::from("a"), &Bytes::from("+")).is_none());
        assert!(LexRange::parse(&Bytes::from("++"), &Bytes::from("+")).is_none());
    }
}
