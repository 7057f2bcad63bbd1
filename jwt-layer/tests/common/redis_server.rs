//! A real `redis-server`, started by the test on a unix socket in a temp dir,
//! with helpers to look inside it (key counts, command counts).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the server writes what it is told to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Nothing on disk: a restart starts empty.
    None,
    /// Append-only file, fsynced at every write: a restart loses nothing.
    AppendOnlyAlways,
}

pub struct RedisServer {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
    durability: Durability,
    pub url: String,
}

impl RedisServer {
    /// Starts a private, memory-only server. Fails (never skips) when
    /// `redis-server` is missing.
    pub fn start() -> Self {
        Self::start_with(Durability::None)
    }

    /// Starts a private server with the given durability.
    pub fn start_with(durability: Durability) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "jwt-layer-redis-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("redis.sock");
        let child = spawn(&dir, &socket, durability);
        let url = format!("redis+unix://{}", socket.display());
        Self {
            child,
            dir,
            socket,
            durability,
            url,
        }
    }

    /// Stops the server now (to test a store that goes down).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again, on the same socket and data directory.
    pub fn restart(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.socket);
        self.child = spawn(&self.dir, &self.socket, self.durability);
    }

    /// A plain connection, to look inside.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Every key matching `pattern`, counted with `SCAN` (never `KEYS`).
    pub fn count_keys(&self, pattern: &str) -> usize {
        let mut connection = self.connection();
        let keys: Vec<String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .clone()
            .iter(&mut connection)
            .unwrap()
            .map(|k| k.unwrap())
            .collect();
        keys.len()
    }

    /// Keys matching `pattern` that have no TTL (`PTTL` of -1): each would
    /// live forever.
    pub fn keys_without_ttl(&self, pattern: &str) -> Vec<String> {
        let mut connection = self.connection();
        let keys: Vec<String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(pattern)
            .clone()
            .iter(&mut connection)
            .unwrap()
            .map(|k| k.unwrap())
            .collect();
        keys.into_iter()
            .filter(|key| {
                let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut connection).unwrap();
                ttl == -1
            })
            .collect()
    }

    /// Zeroes the command statistics (`CONFIG RESETSTAT`).
    pub fn reset_stats(&self) {
        let mut connection = self.connection();
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query(&mut connection)
            .unwrap();
    }

    /// Commands executed since the last reset, by name (`INFO commandstats`),
    /// scripts' inner commands included; the `info` call itself and `config`
    /// are left out.
    pub fn command_calls(&self) -> Vec<(String, u64)> {
        let mut connection = self.connection();
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut connection)
            .unwrap();
        info.lines()
            .filter_map(|line| {
                let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?;
                Some((name.to_owned(), calls.parse().unwrap()))
            })
            .filter(|(name, _)| !name.starts_with("info") && !name.starts_with("config"))
            .collect()
    }
}

fn spawn(dir: &PathBuf, socket: &PathBuf, durability: Durability) -> Child {
    let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let mut command = Command::new(&binary);
    command.args(["--port", "0", "--save", ""]);
    match durability {
        Durability::None => command.args(["--appendonly", "no"]),
        Durability::AppendOnlyAlways => {
            command.args(["--appendonly", "yes", "--appendfsync", "always"])
        }
    };
    let child = command
        .arg("--unixsocket")
        .arg(socket)
        .args(["--unixsocketperm", "700"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "could not start `{binary}` ({e}). The Redis tests need a real server: \
                 install it with `sudo apt-get install -y redis-server` \
                 (or run `bash .ci/install`), or point REDIS_SERVER at the binary."
            )
        });
    let started = Instant::now();
    while !socket.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server did not open {socket:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}
