//! Which master serves which slot, from `CLUSTER SLOTS`: lets a pipeline go as one request per
//! master instead of one per slot. Only the grouping depends on it; each request is still
//! routed by the cluster client's own slot map. A failover keeps the grouping right (the
//! promoted replica serves all the slots of the master it replaces); a resharding makes it
//! stale until the next refresh, after the first failed call.

use bytes::Bytes;

use super::slot::SLOTS;
use crate::{Error, Reply, Result};

/// A slot range and the address of the master serving it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRange {
    pub start: u16,
    pub end: u16,
    pub master: Bytes,
}

/// The ranges of a `CLUSTER SLOTS` reply
/// (`[[start, end, [host, port, id…], replicas…], …]`).
pub fn slot_ranges(reply: Reply) -> Result<Vec<SlotRange>> {
    let Reply::Array(ranges) = reply else {
        return Err(Error::protocol("CLUSTER SLOTS did not answer an array"));
    };
    ranges
        .iter()
        .map(|range| {
            parse_range(range)
                .ok_or_else(|| Error::protocol("CLUSTER SLOTS answered a malformed range"))
        })
        .collect()
}

fn parse_range(range: &Reply) -> Option<SlotRange> {
    let Reply::Array(parts) = range else {
        return None;
    };
    let start = u16::try_from(parts.first()?.as_int()?).ok()?;
    let end = u16::try_from(parts.get(1)?.as_int()?).ok()?;
    let Reply::Array(node) = parts.get(2)? else {
        return None;
    };
    let host = node.first()?.clone().into_bytes()?;
    let port = node.get(1)?.as_int()?;
    let master = Bytes::from(format!("{}:{port}", String::from_utf8_lossy(&host)));
    (start <= end && end < SLOTS).then_some(SlotRange { start, end, master })
}

/// The host and port of a node's address as CLUSTER SLOTS names it (`host:port`).
pub fn host_port(address: &[u8]) -> Option<(String, u16)> {
    let text = std::str::from_utf8(address).ok()?;
    let (host, port) = text.rsplit_once(':')?;
    Some((host.to_string(), port.parse().ok()?))
}

/// Slot → a number naming its master (an index into the masters seen).
pub struct SlotOwners {
    owner: Vec<u16>,
    masters: Vec<Bytes>,
}

/// Marks a slot no master serves (a cluster in trouble): each such slot is its own group.
const UNKNOWN: u16 = u16::MAX;

impl SlotOwners {
    pub fn new(ranges: &[SlotRange]) -> SlotOwners {
        let mut owner = vec![UNKNOWN; usize::from(SLOTS)];
        let mut masters: Vec<Bytes> = Vec::new();
        for range in ranges {
            let index = match masters.iter().position(|m| *m == range.master) {
                Some(i) => i,
                None => {
                    masters.push(range.master.clone());
                    masters.len() - 1
                }
            };
            for slot in range.start..=range.end {
                owner[usize::from(slot)] = index as u16;
            }
        }
        SlotOwners { owner, masters }
    }

    /// The address (`host:port`) of the master serving `slot`, when one does.
    pub fn master_of(&self, slot: u16) -> Option<&Bytes> {
        let owner = *self.owner.get(usize::from(slot))?;
        self.masters.get(usize::from(owner))
    }

    /// A key that is equal for slots of one master and differs between masters.
    pub fn group_of(&self, slot: u16) -> u32 {
        match self.owner.get(usize::from(slot)) {
            Some(&owner) if owner != UNKNOWN => u32::from(owner),
            _ => u32::from(SLOTS) + u32::from(slot),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn an_address_is_split_at_its_last_colon() {
        assert_eq!(
            host_port(b"10.0.0.2:7001"),
            Some(("10.0.0.2".to_string(), 7001))
        );
        assert_eq!(host_port(b"::1:6379"), Some(("::1".to_string(), 6379)));
        assert_eq!(host_port(b"node-a"), None);
        assert_eq!(host_port(b"node-a:port"), None);
    }

    pub(crate) fn range(start: i64, end: i64, port: i64) -> Reply {
        Reply::Array(vec![
            Reply::Int(start),
            Reply::Int(end),
            Reply::Array(vec![Reply::bulk("127.0.0.1"), Reply::Int(port)]),
        ])
    }

    #[test]
    fn slots_of_one_master_share_a_group() {
        let reply = Reply::Array(vec![
            range(0, 5460, 7000),
            range(5461, 10922, 7001),
            range(10923, 16000, 7002),
            range(16100, 16383, 7000),
        ]);
        let owners = SlotOwners::new(&slot_ranges(reply).unwrap());
        assert_eq!(owners.group_of(0), owners.group_of(16383));
        assert_ne!(owners.group_of(0), owners.group_of(5461));
        assert_ne!(owners.group_of(5461), owners.group_of(16000));
        // Unserved slots are groups of their own.
        assert_ne!(owners.group_of(16050), owners.group_of(16051));
        assert_eq!(owners.master_of(16383).unwrap(), "127.0.0.1:7000");
        assert_eq!(owners.master_of(16050), None);
        assert!(slot_ranges(Reply::Array(vec![Reply::Int(1)])).is_err());
    }
}
