//! Popularity of creator profiles: read counts with exponential decay, for `creators.popular`
//! and cache warming. Counting itself is per process (JS batches reads per tick); this is what
//! reaches the backend.
//!
//! Decay: every read at time t adds 2^((t - start) / halfLife) to the creator's score, where
//! `start` begins the current epoch. Growing increments are the same as decaying every older
//! score by half each half-life, without ever rewriting old scores (a write per creator per
//! tick would cost more than the counting). The increments would overflow eventually, so the
//! sorted set is per epoch of `EPOCH_HALF_LIVES` half-lives (increments stay within 2^16, well
//! inside a double's precision): `keys::creator_popularity`. A ranking reads the current and
//! the previous epoch and weighs the previous one by 2^-EPOCH_HALF_LIVES (its increments were
//! relative to a start one epoch earlier), which is exact; only reads older than one full epoch
//! are dropped, and those weigh at most 2^-16 of a fresh read. Each key expires two epochs
//! after it begins. The half-life is part of the key, so processes configured differently keep
//! separate rankings instead of mixing scales.

use std::collections::HashMap;

use super::{all_ok, array, now_ms, Features};
use crate::{keys, Cmd, Error, Reply, Result};

/// Half-lives per epoch (one sorted set each).
pub const EPOCH_HALF_LIVES: u32 = 16;

/// A creator and its decayed read count.
#[derive(Clone, Debug, PartialEq)]
pub struct PopularCreator {
    pub id: String,
    /// Reads, each halved per half-life of age.
    pub score: f64,
}

/// Where `now_ms` falls in the decay epochs of one half-life.
struct Epoch {
    half_life_seconds: f64,
    half_life_ms: f64,
    number: f64,
    /// Half-lives from the epoch's start to now.
    age: f64,
}

impl Epoch {
    fn at(half_life_seconds: f64, now_ms: f64) -> Epoch {
        let half_life_ms = half_life_seconds * 1000.0;
        let length = half_life_ms * f64::from(EPOCH_HALF_LIVES);
        let number = (now_ms / length).floor();
        Epoch {
            half_life_seconds,
            half_life_ms,
            number,
            age: (now_ms - number * length) / half_life_ms,
        }
    }

    fn key(&self, back: f64) -> String {
        keys::creator_popularity(self.half_life_seconds, self.number - back)
    }

    /// When this epoch's set expires: two epochs after it begins, in whole milliseconds.
    fn expires_at_ms(&self) -> u64 {
        ((self.number + 2.0) * self.half_life_ms * f64::from(EPOCH_HALF_LIVES)).ceil() as u64
    }
}

impl Features {
    /// Adds `(creator id, reads)` counted now, weighted for the current epoch, to its sorted set
    /// and renews the set's expiry: one MULTI (one key, so one slot on every backend).
    pub async fn creators_count_reads(
        &self,
        half_life_seconds: f64,
        reads: Vec<(String, u64)>,
    ) -> Result<()> {
        if reads.is_empty() {
            return Ok(());
        }
        let epoch = Epoch::at(half_life_seconds, now_ms() as f64);
        let weight = epoch.age.exp2();
        let key = epoch.key(0.0);
        let mut cmds: Vec<Cmd> = reads
            .into_iter()
            .map(|(id, n)| {
                let increment = n as f64 * weight;
                Cmd::new("ZINCRBY")
                    .arg(&key)
                    .arg(increment.to_string())
                    .arg(id)
            })
            .collect();
        cmds.push(Cmd::new("PEXPIREAT").arg(&key).arg(epoch.expires_at_ms()));
        all_ok(self.backend.pipeline(cmds, true).await?)?;
        Ok(())
    }

    /// The `n` most read creators, most read first (ties by id), scored as reads decayed to now.
    pub async fn creators_popular(
        &self,
        half_life_seconds: f64,
        n: u64,
    ) -> Result<Vec<PopularCreator>> {
        let n = n.max(1);
        let epoch = Epoch::at(half_life_seconds, now_ms() as f64);
        // Twice n from each epoch: the sum decides, and a creator just outside one list's top n
        // can still rank within n overall.
        let stop = n.saturating_mul(2) - 1;
        let top = |key: String| {
            Cmd::new("ZREVRANGE")
                .arg(key)
                .arg("0")
                .arg(stop)
                .arg("WITHSCORES")
        };
        // Two keys, maybe two slots: a plain pipeline.
        let cmds = vec![top(epoch.key(0.0)), top(epoch.key(1.0))];
        let lists = all_ok(self.backend.pipeline(cmds, false).await?)?;
        let mut scores: HashMap<String, f64> = HashMap::new();
        let factors = [1.0, (-f64::from(EPOCH_HALF_LIVES)).exp2()];
        for (list, factor) in lists.into_iter().zip(factors) {
            let mut items = array("ZREVRANGE", list)?.into_iter();
            while let (Some(member), Some(score)) = (items.next(), items.next()) {
                let id = member.into_bytes().ok_or_else(|| {
                    Error::protocol("ZREVRANGE answered a member that is not a string")
                })?;
                let id = String::from_utf8_lossy(&id).into_owned();
                *scores.entry(id).or_default() += score_of(score)? * factor;
            }
        }
        // Back from the epoch's scale to "reads as of now".
        let scale = (-epoch.age).exp2();
        let mut ranking: Vec<PopularCreator> = scores
            .into_iter()
            .map(|(id, score)| PopularCreator {
                id,
                score: score * scale,
            })
            .collect();
        ranking.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        ranking.truncate(usize::try_from(n).unwrap_or(usize::MAX));
        Ok(ranking)
    }

    /// Those of `ids` whose profile (`creator:<id>`) is not cached, in their order: one
    /// pipeline of EXISTS (each key alone, since they span slots).
    pub async fn creators_uncached(&self, ids: Vec<String>) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(ids);
        }
        let cmds = ids
            .iter()
            .map(|id| Cmd::new("EXISTS").arg(keys::creator(id)))
            .collect();
        let found = all_ok(self.backend.pipeline(cmds, false).await?)?;
        Ok(ids
            .into_iter()
            .zip(found)
            .filter(|(_, exists)| exists.as_int() == Some(0))
            .map(|(id, _)| id)
            .collect())
    }
}

fn score_of(reply: Reply) -> Result<f64> {
    reply
        .into_bytes()
        .and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok())
        .ok_or_else(|| Error::protocol("ZREVRANGE answered a score that is not a number"))
}

#[cfg(test)]
mod tests {
    use super::super::on_embedded_store;
    use super::{Epoch, EPOCH_HALF_LIVES};
    use crate::{keys, Cmd};

    fn reads(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
        pairs.iter().map(|(id, n)| (id.to_string(), *n)).collect()
    }

    #[test]
    fn epochs_split_time_into_sixteen_half_lives() {
        let length = 1000.0 * f64::from(EPOCH_HALF_LIVES);
        let epoch = Epoch::at(1.0, 5.0 * length + 2500.0);
        assert_eq!(epoch.number, 5.0);
        assert_eq!(epoch.age, 2.5);
        assert_eq!(epoch.key(1.0), "popularity:creators:1:4");
        assert_eq!(epoch.expires_at_ms(), (7.0 * length) as u64);
        // A half-life of a fraction of a millisecond-exact length still expires at a whole ms.
        assert_eq!(Epoch::at(0.0123, 0.0).expires_at_ms(), 394);
    }

    #[tokio::test]
    async fn ranks_by_reads_with_ties_by_id_and_keeps_n() {
        let (f, db) = on_embedded_store();
        f.creators_count_reads(3600.0, reads(&[("b", 3), ("a", 1), ("c", 1)]))
            .await
            .unwrap();
        f.creators_count_reads(3600.0, reads(&[("a", 5)]))
            .await
            .unwrap();
        let ranking = f.creators_popular(3600.0, 2).await.unwrap();
        let ids: Vec<&str> = ranking.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        // Scores are reads decayed to now: within a moment of the raw counts (a read a second
        // older weighs 2^(-1/3600) as much: 2e-4 less, so the bounds hold a few seconds' delay
        // between the calls on a loaded machine).
        assert!((ranking[0].score - 6.0).abs() < 1e-2, "{ranking:?}");
        assert!(
            (ranking[0].score / ranking[1].score - 2.0).abs() < 1e-2,
            "{ranking:?}"
        );
        let all = f.creators_popular(3600.0, 10).await.unwrap();
        let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        // The set expires two epochs after its epoch begins.
        let epoch = Epoch::at(3600.0, super::now_ms() as f64);
        // What is left is read between two clock readings: a millisecond may pass in between.
        let before = super::now_ms() as i64;
        let pttl = db.execute(&Cmd::new("PTTL").arg(epoch.key(0.0))).unwrap();
        let after = super::now_ms() as i64;
        let expires = epoch.expires_at_ms() as i64;
        assert!(
            (expires - after - 1000..=expires - before).contains(&pttl.as_int().unwrap()),
            "{pttl:?}"
        );
    }

    #[tokio::test]
    async fn the_previous_epoch_counts_weighed_down_by_its_length() {
        let (f, db) = on_embedded_store();
        let epoch = Epoch::at(3600.0, super::now_ms() as f64);
        // 2^16 in the previous epoch's scale is one read at the start of the current one.
        let previous = Cmd::new("ZADD")
            .arg(epoch.key(1.0))
            .arg(2f64.powi(16).to_string())
            .arg("old");
        db.execute(&previous).unwrap();
        let ranking = f.creators_popular(3600.0, 5).await.unwrap();
        assert_eq!(ranking.len(), 1);
        let expected = (-epoch.age).exp2();
        assert!(
            (ranking[0].score / expected - 1.0).abs() < 0.01,
            "{ranking:?}"
        );
    }

    #[tokio::test]
    async fn uncached_lists_the_profiles_not_stored() {
        let (f, db) = on_embedded_store();
        db.execute(&Cmd::new("SET").arg(keys::creator("b")).arg("{}"))
            .unwrap();
        let ids = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(f.creators_uncached(ids).await.unwrap(), ["a", "c"]);
        assert!(f.creators_uncached(Vec::new()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn nothing_read_ranks_nobody() {
        let (f, _) = on_embedded_store();
        assert!(f.creators_popular(3600.0, 3).await.unwrap().is_empty());
        f.creators_count_reads(3600.0, Vec::new()).await.unwrap();
    }
}
