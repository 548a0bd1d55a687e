//! The Upstash REST protocol over real HTTP, against the Redis at 127.0.0.1:6379.

mod common;

use std::time::{Duration, Instant};

use common::{harness, start_with, Harness, TOKEN};
use digis_redis_rest_server::RestServerConfig;
use serde_json::{json, Value};

macro_rules! harness {
    ($label:expr) => {
        match harness($label).await {
            Some(h) => h,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread")]
async fn single_commands_answer_with_result() {
    let h = harness!("single");
    let k = h.key("str");
    assert_eq!(h.ok(json!(["SET", k, "v", "EX", 100])).await, json!("OK"));
    assert_eq!(h.ok(json!(["GET", k])).await, json!("v"));
    let ttl = h.ok(json!(["TTL", k])).await.as_i64().unwrap();
    assert!((1..=100).contains(&ttl), "EX 100 arrived as 100: {ttl}");
    assert_eq!(h.ok(json!(["GET", h.key("missing")])).await, Value::Null);

    // Numbers keep their own text; booleans become "true"/"false".
    let n = h.key("n");
    assert_eq!(h.ok(json!(["SET", n, 1.5])).await, json!("OK"));
    assert_eq!(h.ok(json!(["GET", n])).await, json!("1.5"));
    assert_eq!(h.ok(json!(["INCRBYFLOAT", n, 1])).await, json!("2.5"));
    let b = h.key("b");
    h.ok(json!(["SET", b, true])).await;
    assert_eq!(h.ok(json!(["GET", b])).await, json!("true"));
    let i = h.key("i");
    assert_eq!(
        h.ok(json!(["INCRBY", i, 9007199254740993i64])).await,
        json!(9007199254740993i64)
    );
    // Sent as raw text: serde_json::Value in this test would round the number itself.
    let big = format!(r#"["SET","{}",12345678901234567890123]"#, h.key("big"));
    assert_eq!(h.send(h.post("/", big)).await.json, json!({"result": "OK"}));
    assert_eq!(
        h.ok(json!(["GET", h.key("big")])).await,
        json!("12345678901234567890123")
    );

    // RESP2 shapes: HGETALL flat, floats as strings, Lua true → 1 and false → null.
    let hk = h.key("hash");
    assert_eq!(
        h.ok(json!(["HSET", hk, "a", "1", "b", "x"])).await,
        json!(2)
    );
    let all = h.ok(json!(["HGETALL", hk])).await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    let z = h.key("z");
    h.ok(json!(["ZADD", z, 1.5, "m"])).await;
    assert_eq!(h.ok(json!(["ZSCORE", z, "m"])).await, json!("1.5"));
    assert_eq!(
        h.ok(json!(["ZRANGE", z, 0, -1, "WITHSCORES"])).await,
        json!(["m", "1.5"])
    );
    assert_eq!(h.ok(json!(["EVAL", "return true", 0])).await, json!(1));
    assert_eq!(h.ok(json!(["EVAL", "return false", 0])).await, Value::Null);
    assert_eq!(
        h.ok(json!(["EVAL", "return {1, 'a', {2, 'b'}}", 0])).await,
        json!([1, "a", [2, "b"]])
    );

    // Lowercase command names, as the official client sends them.
    assert_eq!(h.ok(json!(["ping"])).await, json!("PONG"));
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_commands_answer_400_with_the_redis_text() {
    let h = harness!("errors");
    let l = h.key("list");
    h.ok(json!(["LPUSH", l, "a"])).await;
    let wrong = h.cmd(json!(["GET", l])).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.json,
        json!({"error": "WRONGTYPE Operation against a key holding the wrong kind of value"})
    );
    let noscript = h.cmd(json!(["EVALSHA", "0".repeat(40), 0])).await;
    assert_eq!(noscript.status, 400);
    assert_eq!(
        noscript.json["error"],
        json!("NOSCRIPT No matching script. Please use EVAL.")
    );
    let unknown = h.cmd(json!(["NOPE", "x"])).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.json["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR unknown command 'NOPE'"));
    // The shared connection is still fine after errors.
    assert_eq!(h.ok(json!(["PING"])).await, json!("PONG"));
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_answer_400() {
    let h = harness!("malformed");
    for (body, starts) in [
        ("[\"GET\"", "ERR malformed JSON"),
        ("{\"a\":1}", "ERR invalid command"),
        ("\"GET\"", "ERR invalid command"),
        ("[]", "ERR empty command"),
        ("", "ERR empty request body"),
        ("[\"SET\",\"k\",null]", "ERR argument 3"),
        ("[\"SET\",\"k\",{\"a\":1}]", "ERR argument 3"),
    ] {
        let answer = h.send(h.post("/", body)).await;
        assert_eq!(answer.status, 400, "{body}");
        let text = answer.json["error"].as_str().unwrap();
        assert!(text.starts_with(starts), "{body} → {text}");
    }
    let answer = h.send(h.post("/pipeline", "[[\"PING\"], 3]")).await;
    assert_eq!(answer.status, 400);
    assert!(answer.json["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR command 2"));
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelines_answer_200_with_inline_errors() {
    let h = harness!("pipeline");
    let (s, l) = (h.key("s"), h.key("l"));
    let body = json!([
        ["SET", s, "1"],
        ["INCR", s],
        ["LPUSH", l, "x"],
        ["GET", l],
        ["SUBSCRIBE", "chan"],
        ["GET", s]
    ]);
    let answer = h.send(h.post("/pipeline", body.to_string())).await;
    assert_eq!(answer.status, 200);
    let items = answer.json.as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(items[0], json!({"result": "OK"}));
    assert_eq!(items[1], json!({"result": 2}));
    assert_eq!(items[2], json!({"result": 1}));
    assert_eq!(
        items[3],
        json!({"error": "WRONGTYPE Operation against a key holding the wrong kind of value"})
    );
    assert!(items[4]["error"]
        .as_str()
        .unwrap()
        .contains("not supported over REST"));
    assert_eq!(items[5], json!({"result": "2"}));
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_exec_is_atomic_and_reports_per_command() {
    let h = harness!("multi");
    let (c, l) = (h.key("counter"), h.key("l"));
    h.ok(json!(["LPUSH", l, "x"])).await;
    let body = json!([["INCR", c], ["GET", l], ["INCR", c]]);
    let answer = h.send(h.post("/multi-exec", body.to_string())).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(
        answer.json,
        json!([
            {"result": 1},
            {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"},
            {"result": 2}
        ])
    );

    // A command Redis cannot queue discards the whole transaction: one error, nothing ran.
    let body = json!([["INCR", c], ["NOPE"], ["INCR", c]]);
    let answer = h.send(h.post("/multi-exec", body.to_string())).await;
    assert_eq!(answer.status, 400);
    let text = answer.json["error"].as_str().unwrap();
    assert!(text.starts_with("EXECABORT"), "{text}");
    assert!(text.contains("command 2"), "{text}");
    assert_eq!(h.ok(json!(["GET", c])).await, json!("2"));

    // Concurrent transactions never interleave, with each other or with single commands on the
    // shared connection (which never see a MULTI: they answer integers, not "QUEUED").
    let a = h.key("atomic");
    let spawn = |path: &str, body: Value| {
        let req = h.post(path, body.to_string());
        tokio::spawn(async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            serde_json::from_str::<Value>(&res.text().await.unwrap()).unwrap()
        })
    };
    let mut transactions = Vec::new();
    let mut singles = Vec::new();
    for _ in 0..40 {
        transactions.push(spawn("/multi-exec", json!([["INCR", a], ["INCR", a]])));
        singles.push(spawn("/", json!(["INCR", a])));
    }
    for run in transactions {
        let json = run.await.unwrap();
        let first = json[0]["result"].as_i64().unwrap();
        let second = json[1]["result"].as_i64().unwrap();
        assert_eq!(second, first + 1, "interleaved: {json}");
    }
    for run in singles {
        let json = run.await.unwrap();
        assert!(json["result"].is_i64(), "{json}");
    }
    assert_eq!(h.ok(json!(["GET", a])).await, json!("120"));

    // Connection-state commands are refused as a whole, and the shared connection is untouched.
    let answer = h
        .send(h.post(
            "/multi-exec",
            json!([["WATCH", c], ["INCR", c]]).to_string(),
        ))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(h.ok(json!(["INCR", c])).await, json!(3));
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn path_style_commands() {
    let h = harness!("path");
    let k = h.key("p a/th");
    let enc = k.replace(' ', "%20").replace('/', "%2F");
    let answer = h.get(&format!("/set/{enc}/v%C3%A9/EX/100")).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json, json!({"result": "OK"}));
    assert_eq!(
        h.get(&format!("/get/{enc}")).await.json,
        json!({"result": "vé"})
    );
    // A raw POST body is the last argument.
    let answer = h
        .send(
            h.http
                .post(format!("{}/set/{enc}", h.base))
                .bearer_auth(TOKEN)
                .body("raw body \"text\""),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(h.ok(json!(["GET", k])).await, json!("raw body \"text\""));
    let wrong = h.get(&format!("/hget/{enc}/f")).await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.json["error"]
        .as_str()
        .unwrap()
        .starts_with("WRONGTYPE"));
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_is_required() {
    let h = harness!("auth");
    let expected = json!({"error": "WRONGPASS invalid or missing auth token"});
    let none = h
        .send(h.http.post(format!("{}/", h.base)).body("[\"PING\"]"))
        .await;
    assert_eq!((none.status, &none.json), (401, &expected));
    let wrong = h
        .send(
            h.http
                .post(format!("{}/", h.base))
                .bearer_auth("test-token-12")
                .body("[\"PING\"]"),
        )
        .await;
    assert_eq!((wrong.status, &wrong.json), (401, &expected));
    assert!(wrong.headers.contains_key("upstash-sync-token"));
    // Decided from the headers: the connection is not kept for a stranger.
    assert_eq!(wrong.headers["connection"], "close");
    let path = h.send(h.http.get(format!("{}/ping", h.base))).await;
    assert_eq!(path.status, 401);
    let query = h
        .send(h.http.get(format!("{}/ping?_token={TOKEN}", h.base)))
        .await;
    assert_eq!(query.json, json!({"result": "PONG"}));
    let pipeline = h
        .send(
            h.http
                .post(format!("{}/pipeline", h.base))
                .body("[[\"PING\"]]"),
        )
        .await;
    assert_eq!(pipeline.status, 401);
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn base64_encodes_every_string_at_every_depth() {
    let h = harness!("base64");
    let k = h.key("bin");
    // Bytes that are not UTF-8, written by Lua.
    let set = h
        .cmd_base64(json!([
            "EVAL",
            "return redis.call('SET', KEYS[1], string.char(255, 0, 128))",
            1,
            k
        ]))
        .await;
    assert_eq!(
        set.json,
        json!({"result": "OK"}),
        "top-level OK stays as is"
    );
    let got = h.cmd_base64(json!(["GET", k])).await;
    assert_eq!(got.json, json!({"result": "/wCA"}));
    let plain = h.ok(json!(["GET", k])).await;
    assert_eq!(plain, json!("\u{fffd}\u{0}\u{fffd}"));

    let nested = h
        .cmd_base64(json!(["EVAL", "return {1, 'ab', {'OK', false, 7}, {}}", 0]))
        .await;
    assert_eq!(
        nested.json,
        json!({"result": [1, "YWI=", ["T0s=", null, 7], []]})
    );
    let pong = h.cmd_base64(json!(["PING"])).await;
    assert_eq!(pong.json, json!({"result": "UE9ORw=="}));
    let err = h.cmd_base64(json!(["HGET", k, "f"])).await;
    assert_eq!(err.status, 400);
    assert!(err.json["error"].as_str().unwrap().starts_with("WRONGTYPE"));

    let body = json!([
        ["GET", k],
        ["SET", k, "x"],
        ["HGET", k, "f"],
        ["GET", h.key("none")]
    ]);
    let pipeline = h
        .send(
            h.post("/pipeline", body.to_string())
                .header("upstash-encoding", "base64"),
        )
        .await;
    assert_eq!(
        pipeline.json,
        json!([
            {"result": "/wCA"},
            {"result": "OK"},
            {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"},
            {"result": null}
        ])
    );
    let tx = h
        .send(
            h.post(
                "/multi-exec",
                json!([["GET", k], ["LRANGE", h.key("none"), 0, -1]]).to_string(),
            )
            .header("Upstash-Encoding", "base64"),
        )
        .await;
    assert_eq!(tx.json, json!([{"result": "eA=="}, {"result": []}]));
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_the_limit_answer_413() {
    if !common::redis_up().await {
        return;
    }
    let mut config = RestServerConfig::new(common::redis_url(), TOKEN);
    config.port = 0;
    config.max_body_bytes = 1024;
    let h = start_with(config, "limit").await;
    let k = h.key("big");
    let big = json!(["SET", k, "x".repeat(2000)]).to_string();
    let answer = h.send(h.post("/", big.clone())).await;
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.json,
        json!({"error": "ERR request body too large (limit 1024 bytes)"})
    );
    // The same client (keep-alive) goes on working, and nothing was written.
    assert_eq!(h.ok(json!(["EXISTS", k])).await, json!(0));
    let answer = h.send(h.post("/pipeline", format!("[{big}]"))).await;
    assert_eq!(answer.status, 413);
    // Exactly at the limit is fine.
    let at = format!("[\"ECHO\",\"{}\"]", "y".repeat(1024 - 11));
    assert_eq!(at.len(), 1024);
    assert_eq!(h.send(h.post("/", at)).await.status, 200);
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_commands_answer_400_and_leave_the_connection_alone() {
    let h = harness!("refused");
    for cmd in [
        json!(["SUBSCRIBE", "c"]),
        json!(["psubscribe", "c*"]),
        json!(["MONITOR"]),
        json!(["MULTI"]),
        json!(["EXEC"]),
        json!(["WATCH", "k"]),
        json!(["SELECT", 1]),
        json!(["QUIT"]),
        json!(["BLPOP", "l", 0]),
        json!(["bzpopmin", "z", 0]),
        json!(["XREAD", "BLOCK", 0, "STREAMS", "s", "$"]),
        json!(["CLIENT", "REPLY", "OFF"]),
    ] {
        let answer = h.cmd(cmd.clone()).await;
        assert_eq!(answer.status, 400, "{cmd}");
        let text = answer.json["error"].as_str().unwrap();
        assert!(text.starts_with("ERR command '"), "{cmd} → {text}");
        assert!(text.contains("not supported over REST"), "{text}");
    }
    assert_eq!(h.ok(json!(["PING"])).await, json!("PONG"));
    assert_eq!(
        h.ok(json!(["PUBLISH", h.key("chan"), "hi"])).await,
        json!(0)
    );
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_carry_json_and_a_sync_token() {
    let h = harness!("headers");
    let mut last = 0u64;
    for _ in 0..3 {
        let answer = h
            .send(
                h.post("/", "[\"PING\"]")
                    .header("upstash-sync-token", "whatever-the-client-had"),
            )
            .await;
        assert_eq!(answer.headers["content-type"], "application/json");
        let token: u64 = answer.headers["upstash-sync-token"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(token > last);
        last = token;
    }
    let answer = h
        .send(h.http.put(format!("{}/", h.base)).bearer_auth(TOKEN))
        .await;
    assert_eq!(answer.status, 405);
    h.cleanup().await;
}

/// A port nothing listens on.
async fn dead_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_redis_answers_500_quickly() {
    let port = dead_port().await;
    let mut config = RestServerConfig::new(format!("redis://:hunter22@127.0.0.1:{port}"), TOKEN);
    config.port = 0;
    let h = start_with(config, "dead").await; // starting does not need Redis
    for path in ["/", "/pipeline", "/multi-exec"] {
        let body = if path == "/" {
            "[\"PING\"]"
        } else {
            "[[\"PING\"]]"
        };
        let started = Instant::now();
        let answer = h.send(h.post(path, body)).await;
        assert_eq!(answer.status, 500, "{path}");
        assert!(started.elapsed() < Duration::from_secs(2), "{path}");
        let text = answer.json["error"].as_str().unwrap();
        assert!(text.starts_with("ERR "), "{text}");
        assert!(
            !text.contains("hunter22") && !text.contains(TOKEN),
            "{text}"
        );
    }
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_that_never_answers_is_bounded_by_the_connect_timeout() {
    // Accepts connections and never replies: only the connect timeout can end the wait.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let mut config = RestServerConfig::new(format!("redis://127.0.0.1:{port}"), TOKEN);
    config.port = 0;
    let h = start_with(config, "silent").await;
    let started = Instant::now();
    let answer = h.send(h.post("/", "[\"PING\"]")).await;
    assert_eq!(answer.status, 500);
    assert!(started.elapsed() < Duration::from_millis(2500));
    h.server.shutdown().await;
    silent.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn start_rejects_bad_config_without_leaking_secrets() {
    let mut config = RestServerConfig::new("redis://127.0.0.1:6379", "");
    config.port = 0;
    assert!(digis_redis_rest_server::start(config).await.is_err());
    let mut config = RestServerConfig::new("http://:hunter22@x", TOKEN);
    config.port = 0;
    let err = digis_redis_rest_server::start(config).await.err().unwrap();
    assert!(err.starts_with("invalid redis URL"), "{err}");
    assert!(!err.contains("hunter22"));
    // A port already taken.
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = RestServerConfig::new("redis://127.0.0.1:6379", TOKEN);
    config.port = taken.local_addr().unwrap().port();
    let err = digis_redis_rest_server::start(config).await.err().unwrap();
    assert!(err.starts_with("cannot listen on 127.0.0.1:"), "{err}");
    assert!(!format!("{:?}", RestServerConfig::new("redis://:pw123@h", TOKEN)).contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_finishes_in_flight_requests_then_stops() {
    let h = harness!("shutdown");
    let Harness {
        server,
        base,
        http,
        prefix,
    } = h;
    // A script that keeps Redis busy for 300 ms, so the request is in flight at shutdown.
    let slow = json!([
        "EVAL",
        "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] \
         repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] - s > 300000 \
         return 'done'",
        0
    ]);
    let req = http
        .post(format!("{base}/"))
        .bearer_auth(TOKEN)
        .body(slow.to_string())
        .send();
    let in_flight = tokio::spawn(req);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(4));
    let res = in_flight
        .await
        .unwrap()
        .expect("in-flight request completes");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "{\"result\":\"done\"}");
    let after = reqwest::Client::new()
        .post(format!("{base}/"))
        .bearer_auth(TOKEN)
        .body("[\"PING\"]")
        .send()
        .await;
    assert!(after.is_err(), "no longer listening");
    let _ = prefix;
}

#[tokio::test(flavor = "multi_thread")]
async fn administration_is_refused_by_default_and_allowed_with_the_flag() {
    let h = harness!("admin");
    let admin = [
        json!(["CONFIG", "SET", "slowlog-max-len", "128"]),
        json!(["config", "rewrite"]),
        json!(["ACL", "SETUSER", "intruder", "on", ">pw", "+@all"]),
        json!(["REPLICAOF", "127.0.0.1", "1"]),
        json!(["MIGRATE", "127.0.0.1", "1", h.key("k"), 0, 1000]),
        json!(["CLIENT", "PAUSE", 10000]),
        json!(["CLIENT", "KILL", "TYPE", "normal"]),
        json!(["SAVE"]),
        json!(["BGSAVE"]),
        json!(["SHUTDOWN", "NOSAVE"]),
        json!(["DEBUG", "SLEEP", 0]),
        json!(["CLUSTER", "RESET"]),
    ];
    for cmd in &admin {
        let answer = h.cmd(cmd.clone()).await;
        assert_eq!(answer.status, 400, "{cmd}");
        let text = answer.json["error"].as_str().unwrap();
        assert!(text.contains("--allow-admin"), "{cmd} → {text}");
    }
    // In a pipeline each one fails inline; its neighbours run.
    let k = h.key("n");
    let answer = h
        .send(
            h.post(
                "/pipeline",
                json!([
                    ["INCR", k],
                    ["CONFIG", "SET", "maxmemory", "1"],
                    ["INCR", k]
                ])
                .to_string(),
            ),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json[0], json!({"result": 1}));
    assert!(answer.json[1]["error"]
        .as_str()
        .unwrap()
        .contains("--allow-admin"));
    assert_eq!(answer.json[2], json!({"result": 2}));
    // A transaction holding one is refused whole.
    let answer = h
        .send(h.post(
            "/multi-exec",
            json!([["INCR", k], ["ACL", "DELUSER", "default"]]).to_string(),
        ))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(h.ok(json!(["GET", k])).await, json!("2"));
    // What the SDK and its users call stays allowed (FLUSHALL is not run here: the server is
    // shared with other tests).
    assert_eq!(
        h.ok(json!(["CONFIG", "GET", "slowlog-max-len"])).await[0],
        json!("slowlog-max-len")
    );
    assert!(h.ok(json!(["INFO", "server"])).await.is_string());
    h.cleanup().await;

    // With the flag, administration goes through (a harmless one: setting the current value).
    let mut config = RestServerConfig::new(common::redis_url(), TOKEN);
    config.port = 0;
    config.allow_admin = true;
    let h = start_with(config, "admin-allowed").await;
    let current = h.ok(json!(["CONFIG", "GET", "slowlog-max-len"])).await[1].clone();
    assert_eq!(
        h.ok(json!(["CONFIG", "SET", "slowlog-max-len", current]))
            .await,
        json!("OK")
    );
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_capped_in_commands_and_replies_in_bytes() {
    if !common::redis_up().await {
        return;
    }
    let mut config = RestServerConfig::new(common::redis_url(), TOKEN);
    config.port = 0;
    config.max_pipeline_commands = 100;
    config.max_reply_bytes = 64 * 1024;
    let h = start_with(config, "caps").await;
    let k = h.key("n");
    let incrs = |n: usize| json!(vec![json!(["INCR", k]); n]).to_string();

    // One over the cap: refused whole, nothing runs; at the cap: runs.
    for path in ["/pipeline", "/multi-exec"] {
        let over = h.send(h.post(path, incrs(101))).await;
        assert_eq!(over.status, 400, "{path}");
        assert_eq!(
            over.json["error"],
            "ERR pipeline too long: 101 commands, at most 100 per request; split it into \
             several requests"
        );
    }
    assert_eq!(h.ok(json!(["GET", k])).await, Value::Null);
    let at = h.send(h.post("/pipeline", incrs(100))).await;
    assert_eq!((at.status, &at.json[99]), (200, &json!({"result": 100})));

    // Replies: 20 KiB values; the fourth passes 64 KiB and is withheld, as are those after it.
    let big = "x".repeat(20 * 1024);
    let keys: Vec<String> = (0..5).map(|i| h.key(&format!("big{i}"))).collect();
    for key in &keys {
        h.ok(json!(["SET", key, big])).await;
    }
    let gets: Vec<Value> = keys.iter().map(|key| json!(["GET", key])).collect();
    let answer = h.send(h.post("/pipeline", json!(gets).to_string())).await;
    assert_eq!(answer.status, 200);
    for i in 0..3 {
        assert_eq!(answer.json[i]["result"], json!(big), "item {i}");
    }
    for i in 3..5 {
        assert!(answer.json[i]["error"]
            .as_str()
            .unwrap()
            .starts_with("ERR reply too large"));
    }
    // One reply over the bound on its own: 400, and the server keeps serving.
    h.ok(json!(["SET", keys[0], "y".repeat(70 * 1024)])).await;
    let single = h.cmd(json!(["GET", keys[0]])).await;
    assert_eq!(single.status, 400);
    assert!(single.json["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR reply too large"));
    assert_eq!(h.ok(json!(["STRLEN", keys[0]])).await, json!(70 * 1024));
    h.cleanup().await;
}
