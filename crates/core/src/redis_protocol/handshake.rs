//! Opening a plain TCP connection to a Redis server, authenticated and on its database, for a
//! connection that then reads and writes the socket itself (connector.rs).

use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo, ProtocolVersion, RedisError, RedisResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::reply_frame::{build_value, ReplyFrames};

/// Whether [`open_tcp`] can open a connection to `info`: plain TCP speaking RESP2. TLS, Unix
/// sockets and RESP3 stay with redis-rs's own connection.
pub fn plain_tcp(info: &ConnectionInfo) -> bool {
    matches!(info.addr(), ConnectionAddr::Tcp(..))
        && info.redis_settings().protocol() == ProtocolVersion::RESP2
}

/// A non-blocking socket to the server `info` names, with AUTH and SELECT done, within
/// `timeout`.
pub async fn open_tcp(
    info: &ConnectionInfo,
    timeout: Duration,
) -> RedisResult<std::net::TcpStream> {
    let ConnectionAddr::Tcp(host, port) = info.addr() else {
        return Err(RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "only plain TCP connections are opened here",
        )));
    };
    let settings = info.redis_settings();
    let mut setup = Vec::new();
    if let Some(password) = settings.password() {
        let mut auth = redis::cmd("AUTH");
        if let Some(user) = settings.username() {
            auth.arg(user);
        }
        auth.arg(password).write_packed_command(&mut setup);
    }
    if settings.db() != 0 {
        redis::cmd("SELECT")
            .arg(settings.db())
            .write_packed_command(&mut setup);
    }
    let replies = usize::from(settings.password().is_some()) + usize::from(settings.db() != 0);
    let opened = async {
        let mut stream = TcpStream::connect((host.as_str(), *port)).await?;
        stream.set_nodelay(true)?;
        stream.write_all(&setup).await?;
        let mut buf = Vec::new();
        let mut frames = ReplyFrames::default();
        for _ in 0..replies {
            let len = loop {
                if let Some(len) = frames.next_len(&buf).map_err(protocol_error)? {
                    break len;
                }
                if stream.read_buf(&mut buf).await? == 0 {
                    return Err(RedisError::from(std::io::Error::from(
                        std::io::ErrorKind::UnexpectedEof,
                    )));
                }
            };
            build_value(&buf[..len]).extract_error()?;
            buf.drain(..len);
        }
        stream.into_std().map_err(RedisError::from)
    };
    tokio::time::timeout(timeout, opened).await.map_err(|_| {
        RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connecting to redis timed out",
        ))
    })?
}

pub fn protocol_error(err: super::reply_frame::ProtocolError) -> RedisError {
    RedisError::from((redis::ErrorKind::Parse, "invalid reply", err.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(url: &str) -> ConnectionInfo {
        redis::Client::open(url)
            .unwrap()
            .get_connection_info()
            .clone()
    }

    #[test]
    fn only_plain_tcp_on_resp2_is_opened_here() {
        assert!(plain_tcp(&info("redis://127.0.0.1:6379/2")));
        assert!(plain_tcp(&info("redis://u:p@localhost")));
        assert!(!plain_tcp(&info("rediss://127.0.0.1:6379")));
        assert!(!plain_tcp(&info("redis+unix:///tmp/redis.sock")));
        assert!(!plain_tcp(&info("redis://127.0.0.1:6379/?protocol=resp3")));
    }

    /// A refused connection fails at once with an I/O error (a transport failure).
    #[tokio::test]
    async fn a_refused_connection_is_an_io_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = open_tcp(
            &info(&format!("redis://127.0.0.1:{port}")),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(err.is_io_error(), "{err:?}");
    }
}
