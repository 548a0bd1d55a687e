//! The features' side of the near cache (crate::near_cache): turning it on and off, answering
//! a read from it, and filling it from the GETs of the single-value reads.

use std::sync::Arc;

use bytes::Bytes;

use super::{unexpected, Features, Target};
use crate::near_cache::{track, Fill, NearCache, NearRead, NearSettings, NearSpace, NearStats};
use crate::options::Timeouts;
use crate::{BackendKind, Cmd, Error, ErrorKind, Result};

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

    /// The near cache's answer for a read of `target` issued now (see [`NearCache::read`]):
    /// `None` when it does not answer this namespace (or is off).
    pub fn near_read(&self, target: &Target) -> Option<NearRead> {
        let (near, space) = self.near_for(target)?;
        Some(near.read(target.key().as_bytes(), space))
    }

    /// `target`'s entry as it stands (see [`NearCache::peek`]).
    pub fn near_peek(&self, target: &Target) -> Option<Option<Bytes>> {
        self.near.read().as_ref()?.peek(target.key().as_bytes())
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

    /// GETs of `reads` in one pipeline; a read with a placeholder (from `near_read`) also asks
    /// its key's PTTL and fills the near cache with the reply, unless the key changed since the
    /// read was issued. Each item keeps its own outcome.
    pub async fn get_filling(
        &self,
        reads: Vec<(Target, Option<Fill>)>,
    ) -> Result<Vec<Result<Option<Bytes>>>> {
        let mut keys = Vec::with_capacity(reads.len());
        let mut cmds = Vec::with_capacity(reads.len() * 2);
        for (target, fill) in reads {
            let key = Bytes::from(target.into_key());
            cmds.push(Cmd::new("GET").arg(key.clone()));
            if fill.is_some() {
                cmds.push(Cmd::new("PTTL").arg(key.clone()));
            }
            keys.push((key, fill));
        }
        let near = self.near.read().clone();
        let replies = match self.backend.pipeline(cmds, false).await {
            Ok(replies) => replies,
            Err(err) => {
                if let Some(near) = &near {
                    for (key, fill) in &keys {
                        if let Some(fill) = fill {
                            near.abandon_fill(key, *fill);
                        }
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
        let mut values = Vec::with_capacity(keys.len());
        for (key, fill) in keys {
            let value = next().and_then(super::single_key::stored_value);
            if let Some(fill) = fill {
                let pttl = next()
                    .and_then(|reply| reply.as_int().ok_or_else(|| unexpected("PTTL", &reply)));
                // A near cache turned off (or another one) since has no such placeholder.
                if let Some(near) = &near {
                    match (&value, pttl) {
                        (Ok(stored), Ok(pttl)) => {
                            near.complete_fill(&key, fill, stored.clone(), pttl)
                        }
                        _ => near.abandon_fill(&key, fill),
                    }
                }
            }
            values.push(value);
        }
        Ok(values)
    }
}
