//! Pipelines on a cluster: one sub-pipeline per master (the commands of all the slots it
//! serves), all sent in parallel, the replies put back in the caller's order. Commands on one
//! master (so on one key) keep their order; commands on different masters may run in any order
//! relative to each other, as with any cluster client.

use std::future::Future;

use super::slot::{placement, Placement};
use crate::{Cmd, Error, Reply, Result};

/// What goes down one request.
#[derive(Debug, PartialEq)]
pub enum Group {
    /// Commands for one master, as one pipeline sent to the master of `route` (one of their
    /// slots).
    Node { route: u16, cmds: Vec<Cmd> },
    /// A command with no single slot, routed by the cluster client on its own.
    Alone(Cmd),
}

/// A MULTI/EXEC runs on one node: every command naming keys must name the same slot. That
/// slot, or `None` when no command names a key.
pub fn same_slot(cmds: &[Cmd]) -> Result<Option<u16>> {
    let mut slots = cmds.iter().filter_map(|cmd| match placement(cmd) {
        Placement::Slot(slot) => Some(slot),
        Placement::Alone => None,
    });
    match slots.next() {
        Some(first) if !slots.all(|s| s == first) => Err(Error::command(
            "CROSSSLOT Keys in request don't hash to the same slot",
        )),
        first => Ok(first),
    }
}

/// `cmds` split into groups, each with the indices of its commands in `cmds`; `group_of` names
/// the master of a slot.
fn plan(cmds: &[Cmd], group_of: &impl Fn(u16) -> u32) -> Vec<(Group, Vec<usize>)> {
    let mut nodes: Vec<(u32, u16, Vec<Cmd>, Vec<usize>)> = Vec::new();
    let mut alone = Vec::new();
    for (i, cmd) in cmds.iter().enumerate() {
        match placement(cmd) {
            Placement::Slot(slot) => {
                let node = group_of(slot);
                match nodes.iter_mut().find(|(n, _, _, _)| *n == node) {
                    Some((_, _, group, indices)) => {
                        group.push(cmd.clone());
                        indices.push(i);
                    }
                    None => nodes.push((node, slot, vec![cmd.clone()], vec![i])),
                }
            }
            Placement::Alone => alone.push((Group::Alone(cmd.clone()), vec![i])),
        }
    }
    nodes
        .into_iter()
        .map(|(_, route, cmds, indices)| (Group::Node { route, cmds }, indices))
        .chain(alone)
        .collect()
}

/// Sends every group of `cmds` through `send` at once and reassembles the items in order. A
/// group that failed as a whole gives its error to each of its items; when every group failed,
/// nothing ran and the batch fails as a whole, as a pipeline to one server would.
pub async fn run_split<G, F, Fut>(cmds: &[Cmd], group_of: G, send: F) -> Result<Vec<Result<Reply>>>
where
    G: Fn(u16) -> u32,
    F: Fn(Group) -> Fut,
    Fut: Future<Output = Result<Vec<Result<Reply>>>>,
{
    let groups = plan(cmds, &group_of);
    let sent = groups.into_iter().map(|(group, indices)| {
        let reply = send(group);
        async move { (indices, reply.await) }
    });
    let outcomes = futures_util::future::join_all(sent).await;
    let mut items: Vec<Option<Result<Reply>>> = vec![None; cmds.len()];
    let mut first_failure = None;
    let mut any_ran = false;
    for (indices, outcome) in outcomes {
        let replies = outcome.and_then(|replies| {
            if replies.len() == indices.len() {
                Ok(replies)
            } else {
                Err(Error::protocol(format!(
                    "pipeline of {} commands answered {} replies",
                    indices.len(),
                    replies.len()
                )))
            }
        });
        match replies {
            Ok(replies) => {
                any_ran = true;
                for (i, reply) in indices.into_iter().zip(replies) {
                    items[i] = Some(reply);
                }
            }
            Err(err) => {
                for &i in &indices {
                    items[i] = Some(Err(err.clone()));
                }
                first_failure.get_or_insert(err);
            }
        }
    }
    match first_failure {
        Some(err) if !any_ran => Err(err),
        _ => Ok(items
            .into_iter()
            .map(|item| {
                item.unwrap_or_else(|| Err(Error::protocol("a pipeline item got no reply")))
            })
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis_cluster::slot::key_slot;
    use crate::ErrorKind;

    fn cmds(lines: &[&str]) -> Vec<Cmd> {
        lines.iter().map(|l| Cmd::from_line(l)).collect()
    }

    /// Answers each command with its own text, so the order of the reassembly shows.
    async fn echo(group: Group) -> Result<Vec<Result<Reply>>> {
        let text = |cmd: &Cmd| Ok(Reply::bulk(cmd.parts()[1..].join(&b' ')));
        Ok(match group {
            Group::Node { cmds, .. } => cmds.iter().map(text).collect(),
            Group::Alone(cmd) => vec![text(&cmd)],
        })
    }

    /// Each slot its own master.
    fn per_slot(slot: u16) -> u32 {
        u32::from(slot)
    }

    #[test]
    fn commands_of_one_master_go_together_in_order() {
        assert_ne!(key_slot(b"foo"), key_slot(b"bar"));
        let lines = ["SET foo 1", "GET bar", "PING x", "GET foo"];
        let groups = plan(&cmds(&lines), &per_slot);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].1, vec![0, 3]);
        let foo = key_slot(b"foo");
        assert_eq!(
            groups[0].0,
            Group::Node {
                route: foo,
                cmds: cmds(&["SET foo 1", "GET foo"])
            }
        );
        assert_eq!(groups[1].1, vec![1]);
        assert_eq!(groups[2], (Group::Alone(Cmd::from_line("PING x")), vec![2]));

        // foo and bar on one master: one request, in the callers' order.
        let one_master = plan(&cmds(&lines), &|_| 0);
        assert_eq!(one_master.len(), 2);
        assert_eq!(one_master[0].1, vec![0, 1, 3]);
    }

    #[tokio::test]
    async fn replies_come_back_in_the_callers_order() {
        let lines = ["GET a", "GET b", "GET c", "MGET a b", "GET a", "PING p"];
        let items = run_split(&cmds(&lines), per_slot, echo).await.unwrap();
        let expected = ["a", "b", "c", "a b", "a", "p"].map(|t| Ok(Reply::bulk(t)));
        assert_eq!(items, expected.to_vec());
    }

    #[tokio::test]
    async fn a_failed_group_fails_only_its_items_unless_all_failed() {
        let failing_bar = |group: Group| async move {
            match &group {
                Group::Node { cmds, .. } if cmds[0].parts()[1].as_ref() == b"bar" => {
                    Err(Error::new(ErrorKind::Connection, "node down"))
                }
                _ => echo(group).await,
            }
        };
        let items = run_split(&cmds(&["GET foo", "GET bar"]), per_slot, failing_bar)
            .await
            .unwrap();
        assert_eq!(items[0], Ok(Reply::bulk("foo")));
        assert_eq!(items[1].as_ref().unwrap_err().kind, ErrorKind::Connection);

        let all = run_split(&cmds(&["GET bar"]), per_slot, failing_bar).await;
        assert_eq!(all.unwrap_err().kind, ErrorKind::Connection);
    }

    #[test]
    fn a_100k_key_mget_goes_as_one_request_per_master() {
        use crate::redis_cluster::multikey;
        let keys = (0..100_000).map(|i| format!("t:m:{i}"));
        let mget = Cmd::new("MGET").args(keys);
        let split = multikey::split(&mget).unwrap();
        // One MGET per slot (Redis refuses keys of two slots in one command, even on one
        // master), each key in exactly one of them.
        assert!(split.parts.len() > 16_000, "{}", split.parts.len());
        let mut positions: Vec<usize> = split.parts.iter().flat_map(|(_, p)| p.clone()).collect();
        positions.sort_unstable();
        assert_eq!(positions, (0..100_000).collect::<Vec<_>>());
        // Three masters of a third of the slots each: three requests.
        let parts: Vec<Cmd> = split.parts.into_iter().map(|(cmd, _)| cmd).collect();
        let groups = plan(&parts, &|slot| u32::from(slot / 5462));
        assert_eq!(groups.len(), 3);
        assert!(groups
            .iter()
            .all(|(group, _)| matches!(group, Group::Node { .. })));
    }

    #[test]
    fn transactions_must_stay_in_one_slot() {
        assert!(same_slot(&cmds(&["SET {t}a 1", "DEL {t}b", "PING"])).is_ok());
        let err = same_slot(&cmds(&["SET foo 1", "SET bar 1"])).unwrap_err();
        assert!(err.message.starts_with("CROSSSLOT"));
    }
}
