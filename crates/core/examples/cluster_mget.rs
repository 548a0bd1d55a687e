//! An MGET across slots on a Redis Cluster two ways: ours (`ClusterBackend`: one MGET per slot,
//! each master's share as one pipelined request through that master's circuit) and redis-rs's
//! own multi-slot routing (one MGET per slot, each sent on its own, replies combined by
//! redis-rs). Prints the median latency of each, sequential calls, per key count.
//!
//!   node bench/cluster-mget-routing.js     (starts a private 3-master cluster and runs this)
//!   cargo run --release -p digis-redis-core --example cluster_mget -- redis://127.0.0.1:7000,…

use std::sync::Arc;
use std::time::Instant;

use digis_redis_core::options::{BreakerPolicy, Timeouts};
use digis_redis_core::redis_cluster::ClusterBackend;
use digis_redis_core::{Backend, Cmd, Reply};
use redis::cluster::ClusterClientBuilder;

const ROUNDS: usize = 5;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let urls: Vec<String> = std::env::args()
        .nth(1)
        .expect("usage: cluster_mget <comma-separated seed URLs>")
        .split(',')
        .map(str::to_owned)
        .collect();
    let ours = ClusterBackend::new(
        &urls,
        Arc::new(Timeouts::new(30_000, 5_000, 0)),
        Arc::new(BreakerPolicy::default()),
    )
    .expect("cluster URLs");
    let mut theirs = ClusterClientBuilder::new(urls.iter().map(String::as_str))
        .build()
        .expect("cluster URLs")
        .get_async_connection()
        .await
        .expect("connect");

    println!("| keys | calls | ours p50 (ms) | redis-rs p50 (ms) |");
    println!("|---:|---:|---:|---:|");
    for (keys, calls) in [(100, 300), (1_000, 100), (10_000, 20), (100_000, 5)] {
        let names: Vec<String> = (0..keys).map(|i| format!("bench:route:{i}")).collect();
        for chunk in names.chunks(1_000) {
            let sets = chunk
                .iter()
                .map(|k| Cmd::new("SET").arg(k.as_str()).arg(k.as_str()))
                .collect();
            ours.pipeline(sets, false).await.expect("set");
        }
        let mget = Cmd::new("MGET").args(names.iter().map(String::as_str));
        let mut redis_mget = redis::cmd("MGET");
        redis_mget.arg(&names);
        // Both answer every value, in key order.
        let Reply::Array(values) = ours.call(mget.clone()).await.expect("ours") else {
            panic!("ours: not an array")
        };
        assert_eq!(values.len(), keys);
        let values: Vec<String> = redis_mget.query_async(&mut theirs).await.expect("redis-rs");
        assert_eq!(values, names);

        let (mut ours_ms, mut theirs_ms) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let mut lat = Vec::with_capacity(calls);
            for _ in 0..calls {
                let t = Instant::now();
                ours.call(mget.clone()).await.expect("ours");
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            ours_ms.push(median(lat));
            let mut lat = Vec::with_capacity(calls);
            for _ in 0..calls {
                let t = Instant::now();
                let _: Vec<redis::Value> = redis_mget.query_async(&mut theirs).await.expect("r");
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            theirs_ms.push(median(lat));
        }
        println!(
            "| {keys} | {calls} × {ROUNDS} | {:.3} | {:.3} |",
            median(ours_ms),
            median(theirs_ms)
        );
        for chunk in names.chunks(1_000) {
            let del = Cmd::new("DEL").args(chunk.iter().map(String::as_str));
            ours.call(del).await.expect("del");
        }
    }
}
