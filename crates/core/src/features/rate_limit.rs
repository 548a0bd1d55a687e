use bytes::Bytes;

use super::{array, Features};
use crate::lua::{
    Script, ScriptCall, RATE_LIMIT_FIXED_WINDOW, RATE_LIMIT_SLIDING_WINDOW, RATE_LIMIT_TOKEN_BUCKET,
};
use crate::{keys, Cmd, Error, ErrorKind, Reply, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Capacity `limit`, refilled at `limit` per window: bursts up to the limit, then a steady
    /// rate. The default.
    TokenBucket,
    SlidingWindow,
    /// The original module's counter at `rate:<id>`, made atomic.
    FixedWindow,
}

impl Algorithm {
    /// The name `rateLimiter.check`'s `algorithm` option gives it.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::TokenBucket => "token-bucket",
            Algorithm::SlidingWindow => "sliding-window",
            Algorithm::FixedWindow => "fixed-window",
        }
    }

    fn script_and_key(self, id: &str) -> (&'static Script, String) {
        match self {
            Algorithm::TokenBucket => (&RATE_LIMIT_TOKEN_BUCKET, keys::rate_limit_token_bucket(id)),
            Algorithm::SlidingWindow => (
                &RATE_LIMIT_SLIDING_WINDOW,
                keys::rate_limit_sliding_window(id),
            ),
            Algorithm::FixedWindow => (&RATE_LIMIT_FIXED_WINDOW, keys::rate_limit(id)),
        }
    }
}

/// The answer of one check, in milliseconds so callers can cache a block precisely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitDecision {
    pub allowed: bool,
    pub remaining: u64,
    /// Until the whole quota is available again.
    pub reset_ms: u64,
    /// Until a request of the same cost would be allowed; 0 when allowed.
    pub retry_after_ms: u64,
}

/// One check: which limit, for whom.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RateLimitRequest {
    pub id: String,
    pub algorithm: Algorithm,
    pub limit: u64,
    pub window_seconds: u64,
    pub cost: u64,
}

impl RateLimitRequest {
    /// What every algorithm needs, checked here for every caller (the JS layer, the exported
    /// binding) before any script runs: a limit, window and cost of at least 1, and a cost
    /// within the limit, which could otherwise never be allowed (the sliding window's script
    /// would divide by its empty count to say when).
    fn check(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::new(ErrorKind::InvalidArgument, message));
        if self.limit == 0 || self.window_seconds == 0 || self.cost == 0 {
            return invalid(format!(
                "limit ({}), window ({}) and cost ({}) must each be at least 1",
                self.limit, self.window_seconds, self.cost
            ));
        }
        if self.cost > self.limit {
            return invalid(format!(
                "cost ({}) must not exceed limit ({}): it could never be allowed",
                self.cost, self.limit
            ));
        }
        Ok(())
    }

    fn call(&self) -> ScriptCall {
        let (script, key) = self.algorithm.script_and_key(&self.id);
        let window_ms = self.window_seconds.saturating_mul(1000);
        ScriptCall {
            script,
            keys: vec![Bytes::from(key)],
            args: [self.limit, window_ms, self.cost]
                .iter()
                .map(|n| Bytes::from(n.to_string()))
                .collect(),
        }
    }
}

/// `{allowed, remaining, reset ms, retry-after ms}`, as every rate-limit script answers.
fn decision(script: &str, reply: Reply) -> Result<RateLimitDecision> {
    let parts = array(script, reply)?;
    let numbers: Vec<i64> = parts.iter().filter_map(Reply::as_int).collect();
    let [allowed, remaining, reset_ms, retry_after_ms] = numbers[..] else {
        return Err(Error::protocol(format!("{script} answered {parts:?}")));
    };
    let non_negative = |n: i64| n.max(0) as u64;
    Ok(RateLimitDecision {
        allowed: allowed == 1,
        remaining: non_negative(remaining),
        reset_ms: non_negative(reset_ms),
        retry_after_ms: non_negative(retry_after_ms),
    })
}

impl Features {
    /// One atomic script call (one round trip whatever the algorithm), or none for a client
    /// known to be blocked (rate_limit_blocks.rs).
    pub async fn rate_limit_check(&self, request: &RateLimitRequest) -> Result<RateLimitDecision> {
        if let Some(answer) = self.rate_limit_answered_here(request) {
            return answer;
        }
        let call = request.call();
        let reply = self.backend.eval(call.script, call.keys, call.args).await?;
        self.rate_limit_decided(request, call.script.name, reply)
    }

    /// `rate_limit_check` answered on the calling thread where the backend can (the embedded
    /// store): the same answers without a future. `None` when the backend cannot.
    pub fn rate_limit_check_immediately(
        &self,
        request: &RateLimitRequest,
    ) -> Option<Result<RateLimitDecision>> {
        if let Some(answer) = self.rate_limit_answered_here(request) {
            return Some(answer);
        }
        let call = request.call();
        let reply = self
            .backend
            .eval_immediately(call.script, &call.keys, &call.args)?;
        Some(reply.and_then(|reply| self.rate_limit_decided(request, call.script.name, reply)))
    }

    /// The answer of a check that needs no script: an invalid request's error, or a block known
    /// from memory (rate_limit_blocks.rs). None: the check goes to the backend.
    fn rate_limit_answered_here(
        &self,
        request: &RateLimitRequest,
    ) -> Option<Result<RateLimitDecision>> {
        match request.check() {
            Err(err) => Some(Err(err)),
            Ok(()) => self.rate_limit_blocks.known(request).map(Ok),
        }
    }

    /// A script's reply read as a decision, and remembered when it is a block.
    fn rate_limit_decided(
        &self,
        request: &RateLimitRequest,
        script: &str,
        reply: Reply,
    ) -> Result<RateLimitDecision> {
        let answer = decision(script, reply)?;
        self.rate_limit_blocks.record(request, &answer);
        Ok(answer)
    }

    /// Many checks in one round trip where the backend can; each keeps its own outcome (an
    /// invalid request fails alone, unsent; a known block is answered from memory).
    pub async fn rate_limit_check_many(
        &self,
        requests: &[RateLimitRequest],
    ) -> Result<Vec<Result<RateLimitDecision>>> {
        // Per request: answered already (an invalid one, a known block), or None: to send.
        let local: Vec<Option<Result<RateLimitDecision>>> = requests
            .iter()
            .map(|request| self.rate_limit_answered_here(request))
            .collect();
        let calls: Vec<ScriptCall> = requests
            .iter()
            .zip(&local)
            .filter(|(_, answered)| answered.is_none())
            .map(|(request, _)| request.call())
            .collect();
        let names: Vec<&'static str> = calls.iter().map(|c| c.script.name).collect();
        let mut sent = if calls.is_empty() {
            Vec::new()
        } else {
            self.backend.eval_many(calls).await?
        }
        .into_iter()
        .zip(names);
        Ok(requests
            .iter()
            .zip(local)
            .map(|(request, answered)| {
                if let Some(answer) = answered {
                    return answer;
                }
                let (item, name) = sent
                    .next()
                    .ok_or_else(|| Error::protocol("a rate-limit batch answered too few items"))?;
                self.rate_limit_decided(request, name, item?)
            })
            .collect())
    }

    /// Forgets every algorithm's state for `id` (one DEL: the keys share a cluster slot), and
    /// this process's memory of its blocks.
    pub async fn rate_limit_reset(&self, id: &str) -> Result<()> {
        self.rate_limit_blocks.forget(id);
        let cmd = Cmd::new("DEL")
            .arg(keys::rate_limit(id))
            .arg(keys::rate_limit_token_bucket(id))
            .arg(keys::rate_limit_sliding_window(id));
        self.backend.call(cmd).await?;
        Ok(())
    }
}
