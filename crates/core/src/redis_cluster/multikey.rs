//! Multi-key commands whose keys span slots (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH): one
//! command per slot, sent in parallel, the replies merged back in the caller's order. MSET is
//! then not atomic across slots (each slot's part is), as with any cluster client.

use bytes::Bytes;

use super::slot::{key_slot, SLOTS};
use crate::{Cmd, Error, Reply, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// MGET: each slot's values go back to their keys' positions.
    Values,
    /// DEL, UNLINK, EXISTS, TOUCH: the counts add up.
    Sum,
    /// MSET: OK when every part is.
    AllOk,
}

/// One command per slot, each with the positions (in key order) of the keys it carries.
pub struct Split {
    pub parts: Vec<(Cmd, Vec<usize>)>,
    pub merge: Merge,
    pub keys: usize,
}

/// `None` when `cmd` is not a multi-key command or all its keys share one slot.
pub fn split(cmd: &Cmd) -> Option<Split> {
    let (merge, stride) = match cmd.name().as_str() {
        "MGET" => (Merge::Values, 1),
        "DEL" | "UNLINK" | "EXISTS" | "TOUCH" => (Merge::Sum, 1),
        "MSET" => (Merge::AllOk, 2),
        _ => return None,
    };
    let parts = cmd.parts();
    let args = parts.get(1..)?;
    if args.is_empty() || args.len() % stride != 0 {
        return None;
    }
    // Each slot's group, found by index: a 100k-key MGET spans nearly every slot, and a
    // search through the groups per key would cost keys × slots.
    let mut group_of_slot = vec![usize::MAX; usize::from(SLOTS)];
    let mut groups: Vec<(Vec<Bytes>, Vec<usize>)> = Vec::new();
    for (position, entry) in args.chunks(stride).enumerate() {
        let slot = usize::from(key_slot(&entry[0]));
        if group_of_slot[slot] == usize::MAX {
            group_of_slot[slot] = groups.len();
            groups.push((vec![parts[0].clone()], Vec::new()));
        }
        let (group, positions) = &mut groups[group_of_slot[slot]];
        group.extend(entry.iter().cloned());
        positions.push(position);
    }
    if groups.len() < 2 {
        return None;
    }
    Some(Split {
        parts: groups
            .into_iter()
            .map(|(parts, positions)| (Cmd::from_parts(parts), positions))
            .collect(),
        merge,
        keys: args.len() / stride,
    })
}

/// The reply the unsplit command would have given; the first failed part fails it all.
pub fn merge(split: &Split, replies: Vec<Result<Reply>>) -> Result<Reply> {
    match split.merge {
        Merge::Values => {
            let mut values = vec![Reply::Nil; split.keys];
            for ((_, positions), reply) in split.parts.iter().zip(replies) {
                let Reply::Array(items) = reply? else {
                    return Err(Error::protocol("MGET did not answer an array"));
                };
                if items.len() != positions.len() {
                    return Err(Error::protocol("MGET answered the wrong number of values"));
                }
                for (&at, item) in positions.iter().zip(items) {
                    values[at] = item;
                }
            }
            Ok(Reply::Array(values))
        }
        Merge::Sum => {
            let mut total = 0;
            for reply in replies {
                let reply = reply?;
                total += reply
                    .as_int()
                    .ok_or_else(|| Error::protocol(format!("expected a count, got {reply:?}")))?;
            }
            Ok(Reply::Int(total))
        }
        Merge::AllOk => {
            for reply in replies {
                reply?;
            }
            Ok(Reply::ok())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_slot_are_not_split() {
        assert!(split(&Cmd::from_line("MGET {t}a {t}b")).is_none());
        assert!(split(&Cmd::from_line("GET foo")).is_none());
        assert!(split(&Cmd::from_line("MSET foo")).is_none());
    }

    #[test]
    fn mget_values_come_back_in_key_order() {
        let s = split(&Cmd::from_line("MGET foo bar {foo}x")).unwrap();
        assert_eq!(s.parts.len(), 2);
        assert_eq!(s.parts[0], (Cmd::from_line("MGET foo {foo}x"), vec![0, 2]));
        assert_eq!(s.parts[1], (Cmd::from_line("MGET bar"), vec![1]));
        let replies = vec![
            Ok(Reply::Array(vec![Reply::bulk("1"), Reply::Nil])),
            Ok(Reply::Array(vec![Reply::bulk("2")])),
        ];
        assert_eq!(
            merge(&s, replies).unwrap(),
            Reply::Array(vec![Reply::bulk("1"), Reply::bulk("2"), Reply::Nil])
        );
    }

    #[test]
    fn counts_add_up_and_mset_keeps_pairs() {
        let s = split(&Cmd::from_line("DEL foo bar")).unwrap();
        assert_eq!(
            merge(&s, vec![Ok(Reply::Int(1)), Ok(Reply::Int(0))]).unwrap(),
            Reply::Int(1)
        );
        let s = split(&Cmd::from_line("MSET foo 1 bar 2")).unwrap();
        assert_eq!(s.parts[0].0, Cmd::from_line("MSET foo 1"));
        assert_eq!(s.parts[1].0, Cmd::from_line("MSET bar 2"));
        assert!(merge(&s, vec![Ok(Reply::ok()), Err(Error::command("ERR x"))]).is_err());
    }
}
