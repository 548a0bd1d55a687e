//! What `analytics` counts and how it reports it: the in-process counters' layout, which counter
//! an operation's outcome bumps, the latency buckets, percentiles read from them, `stats()` as
//! JSON, the Prometheus text and the fleet totals' fields. The JS layer only counts (a few number
//! increments per call, no crossing to Rust) and hands a snapshot here when asked for a report.

use std::fmt::Write;

use crate::near_cache::{NearStats, SpaceCounts, Tracking, SPACES};

pub const NAMESPACES: [&str; 7] = [
    "cache",
    "users",
    "creators",
    "sessions",
    "streams",
    "tokens",
    "responses",
];
pub const FIELDS: [&str; 5] = ["hits", "misses", "sets", "deletes", "errors"];
const HITS: usize = 0;
const MISSES: usize = 1;
const SETS: usize = 2;
const DELETES: usize = 3;
const ERRORS: usize = 4;
pub const RATE_LIMIT_FIELDS: [&str; 2] = ["allowed", "denied"];
/// Counters, flat: namespace `n`'s field `f` at `n * FIELDS.len() + f`, then the rate-limit
/// decisions. The fleet totals hash has one field per counter, in this order.
pub const COUNTERS: usize = NAMESPACES.len() * FIELDS.len() + RATE_LIMIT_FIELDS.len();
const RATE_LIMIT_BASE: usize = NAMESPACES.len() * FIELDS.len();

/// Upper bounds (ms) of the latency buckets, roughly 1-2.5-5 per decade: wide enough for an
/// in-process store (microseconds) and a slow REST round trip (seconds), 21 numbers per
/// operation whatever the traffic. Percentiles are read from these buckets, so they are
/// estimates within one bucket (interpolated), never an unbounded list of samples.
pub const BUCKET_BOUNDS_MS: [f64; 20] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0,
    1000.0, 2500.0, 5000.0, 10000.0,
];
/// Timed calls per bucket, the last one above every bound.
pub const BUCKETS: usize = BUCKET_BOUNDS_MS.len() + 1;

/// One call in this many is timed. A clock read costs 100-150 ns on common VMs, two per call
/// would be most of the counting's cost; a regular sample (the first call always included)
/// estimates the same percentiles.
pub const TIME_ONE_IN: u32 = 8;

/// What a successful call of an operation counts, besides its calls and errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeterKind {
    Other,
    /// A hit, or a miss when it answers null.
    Read,
    /// A hit or a miss per item of its array.
    ReadMany,
    /// One set or delete.
    Count,
    /// The answer's `allowed`: even a failed call's fallback is a decision the caller acted on.
    Decision,
}

/// Operations that count as reads, writes or deletes of a namespace (the rest: latency and errors).
const OPERATION_KINDS: [(&str, MeterKind, usize); 4] = [
    (
        "cache.get users.get creators.get creators.getList sessions.get streams.getActive tokens.getBalance responses.get",
        MeterKind::Read,
        HITS,
    ),
    (
        "cache.set users.cache creators.cache creators.cacheList sessions.store streams.setActive tokens.cacheBalance responses.set",
        MeterKind::Count,
        SETS,
    ),
    (
        "cache.del cache.delPattern users.invalidate creators.invalidate sessions.destroy streams.removeActive tokens.invalidate cache.invalidateTag",
        MeterKind::Count,
        DELETES,
    ),
    ("cache.mget", MeterKind::ReadMany, HITS),
];

/// Where one operation's outcomes are counted: counter indexes, `None` for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeterSlots {
    pub kind: MeterKind,
    /// A hit, a set or a delete; for a decision, `allowed`.
    pub success: Option<usize>,
    /// A miss; for a decision, `denied`.
    pub miss: Option<usize>,
    pub error: Option<usize>,
}

/// The counters `operation` bumps: its namespace is its name's prefix (`cache.invalidateTag`
/// counts under `responses`).
pub fn meter_slots(operation: &str) -> MeterSlots {
    if operation == "rateLimiter.check" {
        let (allowed, denied) = (RATE_LIMIT_BASE, RATE_LIMIT_BASE + 1);
        return MeterSlots {
            kind: MeterKind::Decision,
            success: Some(allowed),
            miss: Some(denied),
            error: None,
        };
    }
    let namespace = match operation {
        "cache.invalidateTag" => "responses",
        _ => operation.split_once('.').map_or("", |(prefix, _)| prefix),
    };
    let Some(base) = NAMESPACES
        .iter()
        .position(|ns| *ns == namespace)
        .map(|i| i * FIELDS.len())
    else {
        return MeterSlots {
            kind: MeterKind::Other,
            success: None,
            miss: None,
            error: None,
        };
    };
    let (kind, field) = OPERATION_KINDS
        .iter()
        .find(|(names, _, _)| names.split(' ').any(|name| name == operation))
        .map_or((MeterKind::Other, None), |(_, kind, field)| {
            (*kind, Some(*field))
        });
    MeterSlots {
        kind,
        success: field.map(|f| base + f),
        miss: matches!(kind, MeterKind::Read | MeterKind::ReadMany).then_some(base + MISSES),
        error: Some(base + ERRORS),
    }
}

/// The fields of the fleet totals hash, one per counter: `<namespace>:<field>`, `rateLimit:<decision>`.
pub fn total_fields() -> Vec<String> {
    let namespaces = NAMESPACES
        .iter()
        .flat_map(|ns| FIELDS.iter().map(move |f| format!("{ns}:{f}")));
    namespaces
        .chain(RATE_LIMIT_FIELDS.iter().map(|f| format!("rateLimit:{f}")))
        .collect()
}

/// One operation's meter as the JS layer hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation<'a> {
    pub name: &'a str,
    pub calls: f64,
    pub errors: f64,
    pub timed: f64,
    pub sum_ms: f64,
    pub max_ms: f64,
    /// `BUCKETS` numbers.
    pub buckets: &'a [f64],
}

/// Numbers per operation in a flat snapshot: calls, errors, timed, sum and max (ms), buckets.
pub const OPERATION_NUMBERS: usize = 5 + BUCKETS;

impl Operation<'_> {
    /// The latency (ms) below which a fraction `q` of the timed calls finished, interpolated in
    /// its bucket; `None` before the first timed call.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.timed == 0.0 {
            return None;
        }
        let rank = q * self.timed;
        let mut seen = 0.0;
        for (i, &in_bucket) in self.buckets.iter().enumerate() {
            if in_bucket > 0.0 && seen + in_bucket >= rank {
                let lower = if i == 0 { 0.0 } else { BUCKET_BOUNDS_MS[i - 1] };
                let upper = BUCKET_BOUNDS_MS
                    .get(i)
                    .map_or(self.max_ms, |bound| bound.min(self.max_ms));
                return Some(lower + (upper - lower) * ((rank - seen) / in_bucket));
            }
            seen += in_bucket;
        }
        Some(self.max_ms)
    }
}

/// What a report is made of: the process's counters and its operations' meters.
pub struct Snapshot<'a> {
    pub backend: &'a str,
    pub circuit: &'a str,
    /// ISO 8601: when counting started (the last reset).
    pub since: &'a str,
    /// `COUNTERS` numbers.
    pub counters: &'a [f64],
    /// Operations called at least once, by name.
    operations: Vec<Operation<'a>>,
    /// The near cache's numbers, when it is on.
    near: Option<NearStats>,
}

impl<'a> Snapshot<'a> {
    /// From the operations' names and their numbers, `OPERATION_NUMBERS` each; `None` when the
    /// lengths do not match.
    pub fn new(
        backend: &'a str,
        circuit: &'a str,
        since: &'a str,
        counters: &'a [f64],
        names: &'a [String],
        numbers: &'a [f64],
    ) -> Option<Snapshot<'a>> {
        if counters.len() != COUNTERS || numbers.len() != names.len() * OPERATION_NUMBERS {
            return None;
        }
        let mut operations: Vec<Operation> = names
            .iter()
            .zip(numbers.chunks_exact(OPERATION_NUMBERS))
            .map(|(name, n)| Operation {
                name,
                calls: n[0],
                errors: n[1],
                timed: n[2],
                sum_ms: n[3],
                max_ms: n[4],
                buckets: &n[5..],
            })
            .filter(|op| op.calls > 0.0)
            .collect();
        operations.sort_by(|a, b| a.name.cmp(b.name));
        Some(Snapshot {
            backend,
            circuit,
            since,
            counters,
            operations,
            near: None,
        })
    }

    /// The snapshot with the near cache's numbers (`None`: it is off).
    pub fn with_near(mut self, near: Option<NearStats>) -> Snapshot<'a> {
        self.near = near;
        self
    }

    /// `analytics.stats()` as JSON.
    pub fn stats_json(&self) -> String {
        let round = |ms: Option<f64>| json_number(ms.map(|ms| (ms * 1000.0).round() / 1000.0));
        let operations: Vec<String> = self
            .operations
            .iter()
            .map(|op| {
                format!(
                    "{}:{{\"calls\":{},\"errors\":{},\"timed\":{},\"p50Ms\":{},\"p99Ms\":{},\"maxMs\":{}}}",
                    json_string(op.name),
                    json_number(Some(op.calls)),
                    json_number(Some(op.errors)),
                    json_number(Some(op.timed)),
                    round(op.quantile(0.5)),
                    round(op.quantile(0.99)),
                    round(Some(op.max_ms)),
                )
            })
            .collect();
        format!(
            "{{\"backend\":{},\"circuit\":{},\"since\":{},\"namespaces\":{},\"operations\":{{{}}},\"rateLimit\":{},\"nearCache\":{}}}",
            json_string(self.backend),
            json_string(self.circuit),
            json_string(self.since),
            namespaces_json(self.counters),
            operations.join(","),
            rate_limit_json(self.counters),
            near_json(self.near.as_ref()),
        )
    }

    /// The near cache's families (none when it is off).
    fn near_prometheus(&self, out: &mut Exposition) {
        let Some(near) = &self.near else { return };
        let per_space: [(&str, &str, SpaceCount); 3] = [
            (
                "digis_redis_near_cache_hits_total",
                "Reads answered from process memory, by namespace.",
                |c| c.hits,
            ),
            (
                "digis_redis_near_cache_misses_total",
                "Reads the near cache could not answer, by namespace.",
                |c| c.misses,
            ),
            (
                "digis_redis_near_cache_invalidations_total",
                "Entries dropped because the server said their key changed, by namespace.",
                |c| c.invalidations,
            ),
        ];
        for (name, help, pick) in per_space {
            out.family(name, "counter", help);
            for space in SPACES {
                let value = pick(&near.spaces[space as usize]) as f64;
                out.sample("", &[("namespace", space.name())], value);
            }
        }
        let totals = [
            (
                "digis_redis_near_cache_evictions_total",
                "counter",
                "Entries dropped to stay within maxBytes and maxEntries.",
                near.evictions as f64,
            ),
            (
                "digis_redis_near_cache_entries",
                "gauge",
                "Entries held in process memory.",
                near.entries as f64,
            ),
            (
                "digis_redis_near_cache_bytes",
                "gauge",
                "Bytes held in process memory (keys, values and an estimate per entry).",
                near.bytes as f64,
            ),
            (
                "digis_redis_near_cache_live",
                "gauge",
                "1 while entries are served (invalidations flow, or TTL-only), else 0.",
                matches!(near.tracking, Tracking::Live | Tracking::TtlOnly) as u8 as f64,
            ),
        ];
        for (name, kind, help, value) in totals {
            out.family(name, kind, help);
            out.sample("", &[], value);
        }
    }

    /// Prometheus text exposition format 0.0.4 of the snapshot.
    pub fn prometheus(&self) -> String {
        let mut out = Exposition::default();
        let (counters, ops) = (self.counters, &self.operations);
        out.family(
            "digis_redis_info",
            "gauge",
            "The backend this process uses (always 1).",
        );
        out.sample("", &[("backend", self.backend)], 1.0);
        out.family(
            "digis_redis_circuit_state",
            "gauge",
            "Circuit breaker state: 1 for the current one, 0 for the others.",
        );
        for state in ["closed", "open", "half-open"] {
            out.sample(
                "",
                &[("state", state)],
                if self.circuit == state { 1.0 } else { 0.0 },
            );
        }
        let per_namespace = [
            (
                "digis_redis_cache_hits_total",
                "Reads that found a value, by namespace.",
                HITS,
            ),
            (
                "digis_redis_cache_misses_total",
                "Reads that found nothing, by namespace.",
                MISSES,
            ),
            (
                "digis_redis_cache_sets_total",
                "Successful writes, by namespace.",
                SETS,
            ),
            (
                "digis_redis_cache_deletes_total",
                "Successful deletions and invalidations, by namespace.",
                DELETES,
            ),
            (
                "digis_redis_errors_total",
                "Calls answered with their fallback after a failure, by namespace.",
                ERRORS,
            ),
        ];
        for (name, help, field) in per_namespace {
            out.family(name, "counter", help);
            for (i, ns) in NAMESPACES.iter().enumerate() {
                out.sample("", &[("namespace", ns)], counters[i * FIELDS.len() + field]);
            }
        }
        out.family(
            "digis_redis_cache_hit_ratio",
            "gauge",
            "hits / (hits + misses) by namespace; NaN before the first read.",
        );
        for (i, ns) in NAMESPACES.iter().enumerate() {
            let row = &counters[i * FIELDS.len()..];
            out.sample(
                "",
                &[("namespace", ns)],
                hit_ratio(row[HITS], row[MISSES]).unwrap_or(f64::NAN),
            );
        }
        type Reading = fn(&Operation) -> f64;
        let per_operation: [(&str, &str, Reading); 2] = [
            (
                "digis_redis_operation_calls_total",
                "Public calls, by operation.",
                |op| op.calls,
            ),
            (
                "digis_redis_operation_errors_total",
                "Failed calls, by operation.",
                |op| op.errors,
            ),
        ];
        for (name, help, value) in per_operation {
            out.family(name, "counter", help);
            for op in ops {
                out.sample("", &[("operation", op.name)], value(op));
            }
        }
        let help =
            format!("Duration of public calls, by operation (one call in {TIME_ONE_IN} is timed).");
        out.family("digis_redis_operation_duration_seconds", "histogram", &help);
        for op in ops {
            let mut cumulative = 0.0;
            for (bound, in_bucket) in BUCKET_BOUNDS_MS.iter().zip(op.buckets) {
                cumulative += in_bucket;
                out.sample(
                    "_bucket",
                    &[
                        ("operation", op.name),
                        ("le", &prometheus_number(bound / 1000.0)),
                    ],
                    cumulative,
                );
            }
            out.sample(
                "_bucket",
                &[("operation", op.name), ("le", "+Inf")],
                op.timed,
            );
            out.sample("_sum", &[("operation", op.name)], op.sum_ms / 1000.0);
            out.sample("_count", &[("operation", op.name)], op.timed);
        }
        let help = "p50 and p99 call duration estimated in process from the histogram buckets.";
        out.family(
            "digis_redis_operation_duration_quantile_seconds",
            "gauge",
            help,
        );
        for op in ops {
            for (q, label) in [(0.5, "0.5"), (0.99, "0.99")] {
                out.sample(
                    "",
                    &[("operation", op.name), ("quantile", label)],
                    op.quantile(q).unwrap_or(0.0) / 1000.0,
                );
            }
        }
        let help = "rateLimiter.check answers (fail-open fallbacks count as allowed).";
        self.near_prometheus(&mut out);
        out.family("digis_redis_rate_limit_decisions_total", "counter", help);
        for (i, decision) in RATE_LIMIT_FIELDS.iter().enumerate() {
            out.sample("", &[("decision", decision)], counters[RATE_LIMIT_BASE + i]);
        }
        out.text
    }
}

/// `analytics.totals()` as JSON, from the totals hash's fields in `total_fields()` order.
pub fn totals_json(counters: &[f64]) -> Option<String> {
    (counters.len() == COUNTERS).then(|| {
        format!(
            "{{\"namespaces\":{},\"rateLimit\":{}}}",
            namespaces_json(counters),
            rate_limit_json(counters)
        )
    })
}

fn hit_ratio(hits: f64, misses: f64) -> Option<f64> {
    (hits + misses != 0.0).then(|| hits / (hits + misses))
}

/// `{ cache: { hits, misses, hitRatio, sets, deletes, errors }, … }`, in `stats()` and `totals()`.
fn namespaces_json(counters: &[f64]) -> String {
    let rows: Vec<String> = NAMESPACES
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            let row = &counters[i * FIELDS.len()..(i + 1) * FIELDS.len()];
            format!(
                "\"{ns}\":{{\"hits\":{},\"misses\":{},\"hitRatio\":{},\"sets\":{},\"deletes\":{},\"errors\":{}}}",
                json_number(Some(row[HITS])),
                json_number(Some(row[MISSES])),
                json_number(hit_ratio(row[HITS], row[MISSES])),
                json_number(Some(row[SETS])),
                json_number(Some(row[DELETES])),
                json_number(Some(row[ERRORS])),
            )
        })
        .collect();
    format!("{{{}}}", rows.join(","))
}

/// `{ allowed, denied }`.
fn rate_limit_json(counters: &[f64]) -> String {
    format!(
        "{{\"allowed\":{},\"denied\":{}}}",
        json_number(Some(counters[RATE_LIMIT_BASE])),
        json_number(Some(counters[RATE_LIMIT_BASE + 1])),
    )
}

/// A JSON number; null for none, and for what JSON cannot write (NaN, infinities).
/// Picks one of a namespace's near-cache counters.
type SpaceCount = fn(&SpaceCounts) -> u64;

/// `stats().nearCache`: the same shape whether it is on or off.
fn near_json(near: Option<&NearStats>) -> String {
    let off = NearStats {
        tracking: Tracking::Off,
        entries: 0,
        bytes: 0,
        max_bytes: 0,
        max_entries: 0,
        evictions: 0,
        spaces: Default::default(),
        announced: 0,
        last_error: None,
        tracked_servers: Vec::new(),
    };
    let s = near.unwrap_or(&off);
    let total = |pick: fn(&SpaceCounts) -> u64| s.spaces.iter().map(pick).sum::<u64>();
    let spaces: Vec<String> = SPACES
        .iter()
        .map(|space| {
            let c = &s.spaces[*space as usize];
            format!(
                "{}:{{\"hits\":{},\"misses\":{},\"invalidations\":{}}}",
                json_string(space.name()),
                c.hits,
                c.misses,
                c.invalidations
            )
        })
        .collect();
    format!(
        "{{\"enabled\":{},\"tracking\":{},\"entries\":{},\"bytes\":{},\"maxBytes\":{},\"maxEntries\":{},\"hits\":{},\"misses\":{},\"invalidations\":{},\"evictions\":{},\"announced\":{},\"lastError\":{},\"trackedServers\":[{}],\"namespaces\":{{{}}}}}",
        near.is_some(),
        json_string(s.tracking.name()),
        s.entries,
        s.bytes,
        s.max_bytes,
        s.max_entries,
        total(|c| c.hits),
        total(|c| c.misses),
        total(|c| c.invalidations),
        s.evictions,
        s.announced,
        s.last_error.as_deref().map_or("null".to_owned(), json_string),
        s.tracked_servers.iter().map(|server| json_string(server)).collect::<Vec<_>>().join(","),
        spaces.join(","),
    )
}

fn json_number(value: Option<f64>) -> String {
    match value {
        Some(n) if n.is_finite() => format!("{n}"),
        _ => "null".to_owned(),
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Go-style float text: integers without a decimal point, NaN and infinities spelled out.
fn prometheus_number(value: f64) -> String {
    match value {
        v if v.is_nan() => "NaN".to_owned(),
        f64::INFINITY => "+Inf".to_owned(),
        f64::NEG_INFINITY => "-Inf".to_owned(),
        v => format!("{v}"),
    }
}

/// Collects families in order: one `# HELP` and one `# TYPE` line per family, then its samples.
/// Label values escape backslash, double quote and newline; HELP text backslash and newline.
#[derive(Default)]
struct Exposition {
    text: String,
    current: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self.current = name.to_owned();
    }

    fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(name, value)| {
                let value = value
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                format!("{name}=\"{value}\"")
            })
            .collect();
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", labels.join(","))
        };
        let _ = writeln!(
            self.text,
            "{}{suffix}{labels} {}",
            self.current,
            prometheus_number(value)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(ns: &str, field: &str) -> usize {
        let n = NAMESPACES.iter().position(|x| *x == ns).unwrap();
        n * FIELDS.len() + FIELDS.iter().position(|x| *x == field).unwrap()
    }

    #[test]
    fn operations_count_under_their_namespace_and_kind() {
        let get = meter_slots("users.get");
        assert_eq!(get.kind, MeterKind::Read);
        assert_eq!(
            (get.success, get.miss, get.error),
            (
                Some(slot("users", "hits")),
                Some(slot("users", "misses")),
                Some(slot("users", "errors"))
            )
        );
        assert_eq!(meter_slots("cache.mget").kind, MeterKind::ReadMany);
        let tag = meter_slots("cache.invalidateTag");
        assert_eq!(
            (tag.kind, tag.success, tag.miss),
            (MeterKind::Count, Some(slot("responses", "deletes")), None)
        );
        assert_eq!(
            meter_slots("creators.cache").success,
            Some(slot("creators", "sets"))
        );
        let exists = meter_slots("cache.exists");
        assert_eq!(
            (exists.kind, exists.success, exists.error),
            (MeterKind::Other, None, Some(slot("cache", "errors")))
        );
        let check = meter_slots("rateLimiter.check");
        assert_eq!(
            (check.kind, check.success, check.miss, check.error),
            (MeterKind::Decision, Some(35), Some(36), None)
        );
        for unknown in ["SessionStore.get", "test", "analytics.flush"] {
            assert_eq!(
                meter_slots(unknown),
                MeterSlots {
                    kind: MeterKind::Other,
                    success: None,
                    miss: None,
                    error: None
                }
            );
        }
        let fields = total_fields();
        assert_eq!(
            (fields.len(), fields[0].as_str(), fields[36].as_str()),
            (COUNTERS, "cache:hits", "rateLimit:denied")
        );
        assert_eq!(fields[slot("tokens", "deletes")], "tokens:deletes");
    }

    fn meter<'a>(name: &'a str, buckets: &'a [f64], max_ms: f64) -> Operation<'a> {
        let timed = buckets.iter().sum();
        Operation {
            name,
            calls: timed,
            errors: 0.0,
            timed,
            sum_ms: 0.0,
            max_ms,
            buckets,
        }
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket_and_stop_at_the_slowest_call() {
        let mut buckets = [0.0; BUCKETS];
        assert_eq!(meter("x", &buckets, 0.0).quantile(0.5), None);
        buckets[2] = 98.0; // 0.01 to 0.025 ms
        buckets[12] = 2.0; // 25 to 50 ms
        let op = meter("x", &buckets, 41.0);
        let p50 = op.quantile(0.5).unwrap();
        assert!((p50 - (0.01 + 0.015 * 50.0 / 98.0)).abs() < 1e-12, "{p50}");
        // The last bucket's upper end is the slowest call, not the bucket's bound.
        assert_eq!(op.quantile(1.0), Some(41.0));
        assert!((op.quantile(0.99).unwrap() - 33.0).abs() < 1e-9);
        buckets[12] = 0.0;
        buckets[BUCKETS - 1] = 2.0;
        assert_eq!(meter("x", &buckets, 20000.0).quantile(1.0), Some(20000.0));
    }

    #[test]
    fn stats_json_lists_called_operations_by_name() {
        let mut counters = [0.0; COUNTERS];
        counters[slot("cache", "hits")] = 3.0;
        counters[slot("cache", "misses")] = 1.0;
        counters[COUNTERS - 1] = 2.0;
        let mut numbers = vec![0.0; 3 * OPERATION_NUMBERS];
        numbers[..5].copy_from_slice(&[2.0, 1.0, 1.0, 0.0123, 0.0123]);
        numbers[5 + 2] = 1.0;
        numbers[2 * OPERATION_NUMBERS] = 1.0; // called, never timed
        let names = ["z.get", "never.called", "a\"b"].map(String::from);
        assert!(Snapshot::new("redis", "open", "t", &counters, &names[..2], &numbers).is_none());
        let s = Snapshot::new(
            "redis",
            "open",
            "2026-01-01T00:00:00.000Z",
            &counters,
            &names,
            &numbers,
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&s.stats_json()).unwrap();
        assert_eq!(json["backend"], "redis");
        assert_eq!(json["since"], "2026-01-01T00:00:00.000Z");
        assert_eq!(
            json["namespaces"]["cache"],
            serde_json::json!({ "hits": 3, "misses": 1, "hitRatio": 0.75, "sets": 0, "deletes": 0, "errors": 0 })
        );
        assert_eq!(
            json["namespaces"]["users"]["hitRatio"],
            serde_json::Value::Null
        );
        assert_eq!(
            json["rateLimit"],
            serde_json::json!({ "allowed": 0, "denied": 2 })
        );
        let text = s.stats_json();
        let order: Vec<usize> = [
            "\"backend\"",
            "\"circuit\"",
            "\"since\"",
            "\"namespaces\"",
            "\"operations\"",
            "\"rateLimit\"",
        ]
        .iter()
        .map(|key| text.find(key).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        let ops = json["operations"].as_object().unwrap();
        assert_eq!(ops.keys().collect::<Vec<_>>(), ["a\"b", "z.get"]);
        assert_eq!(
            json["operations"]["z.get"],
            serde_json::json!({ "calls": 2, "errors": 1, "timed": 1, "p50Ms": 0.011, "p99Ms": 0.012, "maxMs": 0.012 })
        );
        assert_eq!(json["operations"]["a\"b"]["p50Ms"], serde_json::Value::Null);
        let totals: serde_json::Value =
            serde_json::from_str(&totals_json(&counters).unwrap()).unwrap();
        assert_eq!(totals["namespaces"], json["namespaces"]);
        assert!(totals_json(&counters[1..]).is_none());
    }

    #[test]
    fn prometheus_text_escapes_labels_and_help_and_accumulates_buckets() {
        let mut e = Exposition::default();
        e.family("x_total", "counter", "back\\slash and\nnewline");
        e.sample("", &[("path", "a\"b\\c\nd")], 3.0);
        assert_eq!(e.text, "# HELP x_total back\\\\slash and\\nnewline\n# TYPE x_total counter\nx_total{path=\"a\\\"b\\\\c\\nd\"} 3\n");
        let values: Vec<String> = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.5,
            2.0,
            0.005 / 1000.0,
        ]
        .map(prometheus_number)
        .to_vec();
        assert_eq!(values, ["NaN", "+Inf", "-Inf", "0.5", "2", "0.000005"]);

        let counters = [0.0; COUNTERS];
        let mut numbers = vec![0.0; OPERATION_NUMBERS];
        numbers[..5].copy_from_slice(&[3.0, 0.0, 2.0, 4.0, 3.0]);
        numbers[5 + 8] = 1.0; // 1 to 2.5 ms
        numbers[5 + 9] = 1.0; // 2.5 to 5 ms
        let names = ["cache.get".to_owned()];
        let text = Snapshot::new("embedded", "closed", "t", &counters, &names, &numbers)
            .unwrap()
            .prometheus();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"digis_redis_info{backend=\"embedded\"} 1"));
        assert!(lines.contains(&"digis_redis_circuit_state{state=\"half-open\"} 0"));
        assert!(lines.contains(&"digis_redis_cache_hit_ratio{namespace=\"cache\"} NaN"));
        assert!(lines.contains(&"digis_redis_operation_duration_seconds_bucket{operation=\"cache.get\",le=\"0.001\"} 0"));
        assert!(lines.contains(&"digis_redis_operation_duration_seconds_bucket{operation=\"cache.get\",le=\"0.0025\"} 1"));
        assert!(lines.contains(
            &"digis_redis_operation_duration_seconds_bucket{operation=\"cache.get\",le=\"10\"} 2"
        ));
        assert!(lines.contains(
            &"digis_redis_operation_duration_seconds_bucket{operation=\"cache.get\",le=\"+Inf\"} 2"
        ));
        assert!(lines.contains(
            &"digis_redis_operation_duration_seconds_sum{operation=\"cache.get\"} 0.004"
        ));
        assert!(lines.contains(&"digis_redis_operation_duration_quantile_seconds{operation=\"cache.get\",quantile=\"0.99\"} 0.00299"));
        assert!(lines.contains(&"digis_redis_rate_limit_decisions_total{decision=\"denied\"} 0"));
        assert!(text.ends_with("} 0\n"));
    }
}
