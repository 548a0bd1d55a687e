use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{script::Script, Cmd, Reply, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Embedded,
    Redis,
    Upstash,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Embedded => "embedded",
            BackendKind::Redis => "redis",
            BackendKind::Upstash => "upstash",
        }
    }
}

/// What every backend offers: single commands, pipelines (atomic = MULTI/EXEC) and scripts.
#[async_trait]
pub trait Backend: Send + Sync {
    fn kind(&self) -> BackendKind;

    async fn call(&self, cmd: Cmd) -> Result<Reply>;

    /// Runs `cmds` in order in one round trip. The outer error is for the whole batch (it never
    /// ran, or an atomic batch was discarded); per-command errors stay per item.
    async fn pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>>;

    async fn eval(
        &self,
        script: &'static Script,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
    ) -> Result<Reply>;
}

pub type SharedBackend = Arc<dyn Backend>;
