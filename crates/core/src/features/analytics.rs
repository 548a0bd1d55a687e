//! `analytics`' cross-instance totals: one hash every instance adds its counts to, so the fleet's
//! numbers are one read away. Field names and what they count belong to the JS metrics.

use super::{all_ok, array, Features};
use crate::{keys, Cmd, Reply, Result};

impl Features {
    /// Adds each `(field, amount)` to the totals hash `key` (default `keys::ANALYTICS_TOTALS`),
    /// in one MULTI: a flush arrives whole or not at all, so a flush retried after a failure
    /// never counts twice. Every field is in one key, hence one slot, even on a cluster.
    pub async fn analytics_add_totals(
        &self,
        key: Option<&str>,
        changes: Vec<(String, i64)>,
    ) -> Result<()> {
        let key = key.unwrap_or(keys::ANALYTICS_TOTALS);
        let cmds: Vec<Cmd> = changes
            .into_iter()
            .filter(|(_, amount)| *amount != 0)
            .map(|(field, amount)| Cmd::new("HINCRBY").arg(key).arg(field).arg(amount))
            .collect();
        if !cmds.is_empty() {
            all_ok(self.backend.pipeline(cmds, true).await?)?;
        }
        Ok(())
    }

    /// The totals of `fields`, in their order, from the hash `key` (default
    /// `keys::ANALYTICS_TOTALS`): 0 for a field no instance has flushed yet.
    pub async fn analytics_totals(
        &self,
        key: Option<&str>,
        fields: Vec<String>,
    ) -> Result<Vec<f64>> {
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let key = key.unwrap_or(keys::ANALYTICS_TOTALS);
        let reply = self
            .backend
            .call(Cmd::new("HMGET").arg(key).args(fields))
            .await?;
        Ok(array("HMGET", reply)?
            .into_iter()
            .map(|value| match value {
                Reply::Nil => 0.0,
                other => other
                    .into_bytes()
                    .and_then(|b| std::str::from_utf8(&b).ok()?.trim().parse().ok())
                    .unwrap_or(f64::NAN),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::on_embedded_store;
    use crate::{keys, Cmd, Reply};

    fn changes(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
        pairs.iter().map(|(f, n)| (f.to_string(), *n)).collect()
    }

    #[tokio::test]
    async fn flushes_add_up_in_the_default_hash_and_reads_answer_in_the_asked_order() {
        let (f, db) = on_embedded_store();
        f.analytics_add_totals(None, changes(&[("cache:hits", 2), ("cache:misses", 0)]))
            .await
            .unwrap();
        f.analytics_add_totals(None, changes(&[("cache:hits", 3), ("rateLimit:denied", 1)]))
            .await
            .unwrap();
        // A zero change is not sent: the field stays absent.
        let absent = Cmd::new("HEXISTS")
            .arg(keys::ANALYTICS_TOTALS)
            .arg("cache:misses");
        assert_eq!(db.execute(&absent).unwrap(), Reply::Int(0));
        let fields = ["rateLimit:denied", "cache:misses", "cache:hits"].map(String::from);
        assert_eq!(
            f.analytics_totals(None, fields.to_vec()).await.unwrap(),
            vec![1.0, 0.0, 5.0]
        );
        // Another key is another fleet's totals.
        f.analytics_add_totals(Some("t2"), changes(&[("cache:hits", -4)]))
            .await
            .unwrap();
        assert_eq!(
            f.analytics_totals(Some("t2"), fields.to_vec())
                .await
                .unwrap(),
            vec![0.0, 0.0, -4.0]
        );
    }

    #[tokio::test]
    async fn a_key_that_is_not_a_hash_fails_and_is_left_alone() {
        let (f, db) = on_embedded_store();
        db.execute(&Cmd::from_line("SET t 1")).unwrap();
        let err = f
            .analytics_add_totals(Some("t"), changes(&[("cache:hits", 1)]))
            .await
            .unwrap_err();
        assert!(err.message.contains("WRONGTYPE"), "{err:?}");
        assert!(f
            .analytics_totals(Some("t"), vec!["cache:hits".into()])
            .await
            .is_err());
        assert_eq!(
            db.execute(&Cmd::from_line("GET t")).unwrap(),
            Reply::bulk("1")
        );
    }
}
