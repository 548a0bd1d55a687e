//! The near cache's binding (digis_redis_core::near_cache): configure it, the synchronous
//! lookup the JS layer tries before a read's round trip, and the drop of an entry that a write
//! held for the next batch will change.

use digis_redis_core::near_cache::{NearRead, NearSettings};
use napi::bindgen_prelude::{Either4, Null, Undefined};
use napi::Error;
use napi_derive::napi;

use crate::analytics::{report, MetricsSnapshot};
use crate::js_error::{self, to_js, Code};
use crate::namespace::{target, Namespace};
use crate::text::Utf8Text;
use crate::NativeClient;

/// `configure({ nearCache })`'s object form; absent fields keep their defaults.
#[napi(object)]
pub struct NearCacheOptions {
    pub max_bytes: Option<f64>,
    pub max_entries: Option<f64>,
    pub namespaces: Option<Vec<String>>,
    pub max_staleness_ms: Option<f64>,
    pub cache_prefixes: Option<Vec<String>>,
}

#[napi]
impl NativeClient {
    /// Turns the near cache on (or changes it), or off with null. Throws
    /// ERR_INVALID_ARGUMENT for a bad option, and on Upstash REST without maxStalenessMs.
    #[napi]
    pub fn configure_near_cache(
        &self,
        options: Option<NearCacheOptions>,
    ) -> Result<(), Error<Code>> {
        let settings = options
            .map(|o| {
                NearSettings::from_options(
                    o.max_bytes,
                    o.max_entries,
                    o.namespaces.as_deref(),
                    o.max_staleness_ms,
                    o.cache_prefixes.as_deref(),
                )
            })
            .transpose()
            .map_err(to_js)?;
        let runtime = crate::io_runtime::current().ok_or_else(|| {
            js_error::core(
                digis_redis_core::ErrorKind::Internal,
                "no I/O runtime to track invalidations on",
            )
        })?;
        self.features
            .configure_near_cache(settings, &runtime, self.tuning.timeouts.clone())
            .map_err(to_js)
    }

    /// The near cache's answer for a read issued now: the value, null for a key known not to
    /// exist, a number (its placeholder: pass it to the read, whose reply then fills the
    /// entry), or undefined (then the read goes to the server and fills nothing). A write
    /// issued earlier and not sent yet makes it undefined: the read must see that write.
    #[napi(ts_return_type = "string | null | number | undefined")]
    pub fn near_get(&self, ns: Namespace, id: String) -> Either4<Utf8Text, Null, f64, Undefined> {
        if self.order.writes_unsent() {
            return Either4::D(());
        }
        match self.features.near_read(&target(ns, id)) {
            Some(NearRead::Hit(Some(value))) => Either4::A(Utf8Text(value)),
            Some(NearRead::Hit(None)) => Either4::B(Null),
            Some(NearRead::Miss(Some(fill))) => Either4::C(fill.ticket() as f64),
            Some(NearRead::Miss(None)) | None => Either4::D(()),
        }
    }

    /// Drops the entry of (`ns`, `id`) now: a write to it waits in the JS layer's batch.
    #[napi]
    pub fn near_forget(&self, ns: Namespace, id: String) {
        self.features.near_forget(&target(ns, id));
    }

    /// `analytics.stats()` as JSON, with this client's near cache.
    #[napi]
    pub fn analytics_stats_json(&self, snapshot: MetricsSnapshot) -> Result<String, Error<Code>> {
        let near = self.features.near_stats();
        report(&snapshot, |s| s.with_near(near).stats_json())
    }

    /// `analytics.prometheus()`, with this client's near cache.
    #[napi]
    pub fn analytics_prometheus(&self, snapshot: MetricsSnapshot) -> Result<String, Error<Code>> {
        let near = self.features.near_stats();
        report(&snapshot, |s| s.with_near(near).prometheus())
    }
}
