//! SCAN across every master of a cluster, behind one cursor.
//!
//! The cursor a caller sees packs two things: which master is being walked, named by the first
//! slot it serves (stable across a failover: the promoted replica serves the same slots), and
//! that master's own SCAN cursor: `node_cursor * 16384 + first_slot`, in decimal. `0` starts
//! the walk at the master of slot 0 and, as an answer, means every master has been walked. The
//! usual SCAN guarantees hold per master; keys moved by a resharding during the walk may be
//! missed or seen twice.

use bytes::Bytes;

use super::owners::SlotRange;
use super::slot::SLOTS;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterCursor {
    /// The first slot of the master being walked.
    pub slot: u16,
    /// That master's SCAN cursor.
    pub node_cursor: u64,
}

impl ClusterCursor {
    pub fn parse(text: &[u8]) -> Result<ClusterCursor> {
        let n: u128 = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| Error::command("ERR invalid cursor"))?;
        let node_cursor = u64::try_from(n / u128::from(SLOTS))
            .map_err(|_| Error::command("ERR invalid cursor"))?;
        Ok(ClusterCursor {
            slot: (n % u128::from(SLOTS)) as u16,
            node_cursor,
        })
    }

    pub fn encode(self) -> Bytes {
        let n = u128::from(self.node_cursor) * u128::from(SLOTS) + u128::from(self.slot);
        Bytes::from(n.to_string())
    }
}

/// The first slot of each master, ascending.
pub fn masters_first_slots(ranges: &[SlotRange]) -> Vec<u16> {
    let mut firsts: Vec<(&Bytes, u16)> = Vec::new();
    for range in ranges {
        match firsts.iter_mut().find(|(m, _)| **m == range.master) {
            Some((_, first)) => *first = (*first).min(range.start),
            None => firsts.push((&range.master, range.start)),
        }
    }
    let mut slots: Vec<u16> = firsts.into_iter().map(|(_, s)| s).collect();
    slots.sort_unstable();
    slots
}

/// Where the walk goes after the master whose first slot is `slot` is done; `None` when it was
/// the last.
pub fn next_master(firsts: &[u16], slot: u16) -> Option<u16> {
    firsts.iter().copied().find(|&s| s > slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis_cluster::owners::{slot_ranges, tests::range};
    use crate::Reply;

    #[test]
    fn cursors_round_trip_and_zero_starts() {
        let c = ClusterCursor {
            slot: 5461,
            node_cursor: u64::MAX,
        };
        assert_eq!(ClusterCursor::parse(&c.encode()).unwrap(), c);
        assert_eq!(
            ClusterCursor::parse(b"0").unwrap(),
            ClusterCursor {
                slot: 0,
                node_cursor: 0
            }
        );
        // The next master's start is never 0, so "0" is only ever the end.
        assert_ne!(
            ClusterCursor {
                slot: 5461,
                node_cursor: 0
            }
            .encode(),
            Bytes::from("0")
        );
        assert!(ClusterCursor::parse(b"x").is_err());
        assert!(ClusterCursor::parse(b"-1").is_err());
    }

    #[test]
    fn masters_are_named_by_their_first_slot() {
        let reply = Reply::Array(vec![
            range(10923, 16383, 7002),
            range(0, 5460, 7000),
            range(5461, 10922, 7001),
            range(16000, 16100, 7000),
        ]);
        let firsts = masters_first_slots(&slot_ranges(reply).unwrap());
        assert_eq!(firsts, vec![0, 5461, 10923]);
        assert_eq!(next_master(&firsts, 0), Some(5461));
        assert_eq!(next_master(&firsts, 5461), Some(10923));
        assert_eq!(next_master(&firsts, 10923), None);
    }
}
