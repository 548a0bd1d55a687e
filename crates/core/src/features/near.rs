//! The features' side of the near cache (crate::near_cache): turning it on and off, answering
//! a read from it, and filling it from the GETs of the single-value reads.

use std::sync::Arc;

use bytes::Bytes;

use super::{unexpected, Features, Target};
use crate::near_cache::{track, Fill, Lookup, NearCache, NearSettings, NearSpace, NearStats};
use crate::options::Timeouts;
use crate::{BackendKind, Cmd, Error, ErrorKind, Result};

/// One read of a batch: its key, and its placeholder when its reply may fill the near cache
/// (then a PTTL follows its GET, so the entry ends with the key).
struct Read {
    key: Bytes,
    fill: Option<(Arc<NearCache>, Fill)>,
}

impl Features {
    /// Turns the near cache on with `settings` (or changes them), or off with `None`. The
    /// embedded store has none: its reads are in process already. Upstash REST has no push
    /// channel, so there it needs `max_staleness`. Tracking runs on `runtime`.
    pub fn configure_near_cache(
        &self,
        settings: Option<NearSettings>,
        runtime: &tokio::runtime::Handle,
        timeouts: Arc<Timeouts>,
    ) -> Result<()> {
        let kind = self.backend.kind();
        if matches!(kind, BackendKind::Embedded | BackendKind::Unconfigured) {
            return Ok(());
        }
        let Some(settings) = settings else {
            if let Some(near) = self.near.write().take() {
                near.stop();
            }
            return Ok(());
        };
        if kind == BackendKind::Upstash && settings.max_staleness.is_none() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "configure({ nearCache }) on Upstash REST needs maxStalenessMs: REST has no channel \
                 to hear of changes, so entries can only expire",
            ));
        }
        let mut slot = self.near.write();
        if let Some(near) = slot.as_ref() {
            near.apply(&settings);
            return Ok(());
        }
        let near = if kind == BackendKind::Upstash {
            NearCache::ttl_only(&settings)
        } else {
            let near = NearCache::tracked(&settings);
            runtime.spawn(track(Arc::downgrade(&near), self.backend.clone(), timeouts));
            near
        };
        *slot = Some(near);
        Ok(())
    }

    fn near_for(&self, target: &Target) -> Option<(Arc<NearCache>, NearSpace)> {
        let space = NearSpace::of(target)?;
        let near = self.near.read().clone()?;
        near.answers(space).then_some((near, space))
    }

    /// Whether the near cache is on for `target`'s namespace (its reads then fill it).
    pub(super) fn near_answers(&self, target: &Target) -> bool {
        self.near_for(target).is_some()
    }

    /// The near cache's answer for a read of `target`: `None` when it has none (off, another
    /// namespace, or a miss).
    pub fn near_lookup(&self, target: &Target) -> Option<Option<Bytes>> {
        let (near, space) = self.near_for(target)?;
        match near.lookup(target.key().as_bytes(), space) {
            Lookup::Hit(value) => Some(value),
            Lookup::Miss => None,
        }
    }

    /// Drops `target`'s entry now: the JS layer holds a write to it for the next batch, and a
    /// read issued meanwhile must not see the old value. By key, whatever the namespace: a raw
    /// `cache.get` may have read the same key.
    pub fn near_forget(&self, target: &Target) {
        if let Some(near) = self.near.read().as_ref() {
            near.forget(target.key().as_bytes());
        }
    }

    pub fn near_stats(&self) -> Option<NearStats> {
        self.near.read().as_ref().map(|near| near.stats())
    }

    /// GETs of `targets` in one pipeline, filling the near cache where it answers their
    /// namespace; each item keeps its own outcome.
    pub(super) async fn get_filling(
        &self,
        targets: Vec<Target>,
    ) -> Result<Vec<Result<Option<Bytes>>>> {
        let mut reads = Vec::with_capacity(targets.len());
        let mut cmds = Vec::with_capacity(targets.len() * 2);
        for target in targets {
            let near = self.near_for(&target);
            let key = Bytes::from(target.into_key());
            let fill = near.and_then(|(near, space)| {
                let fill = near.begin_fill(&key, space)?;
                Some((near, fill))
            });
            cmds.push(Cmd::new("GET").arg(key.clone()));
            if fill.is_some() {
                cmds.push(Cmd::new("PTTL").arg(key.clone()));
            }
            reads.push(Read { key, fill });
        }
        let replies = match self.backend.pipeline(cmds, false).await {
            Ok(replies) => replies,
            Err(err) => {
                for read in &reads {
                    if let Some((near, fill)) = &read.fill {
                        near.abandon_fill(&read.key, *fill);
                    }
                }
                return Err(err);
            }
        };
        let mut replies = replies.into_iter();
        let mut next = || {
            replies
                .next()
                .unwrap_or_else(|| Err(Error::protocol("missing reply")))
        };
        let mut values = Vec::with_capacity(reads.len());
        for read in reads {
            let value = next().and_then(super::single_key::stored_value);
            if let Some((near, fill)) = read.fill {
                let pttl = next()
                    .and_then(|reply| reply.as_int().ok_or_else(|| unexpected("PTTL", &reply)));
                match (&value, pttl) {
                    (Ok(stored), Ok(pttl)) => {
                        near.complete_fill(&read.key, fill, stored.clone(), pttl)
                    }
                    _ => near.abandon_fill(&read.key, fill),
                }
            }
            values.push(value);
        }
        Ok(values)
    }
}
