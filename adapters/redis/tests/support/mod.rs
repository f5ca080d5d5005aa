//! A real `redis-server` for the tests: started on a free port on 127.0.0.1
//! with no persistence, in a temporary directory, and killed on drop (also
//! when the test fails). Never skipped: without `redis-server` on PATH the
//! tests fail and say how to install it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` child process on `127.0.0.1:port`.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    tls: bool,
    child: Option<Child>,
    paused: bool,
}

fn redis_server_missing() -> ! {
    panic!(
        "redis-server is not on PATH: these tests need a real Redis 7. \
         Install it with `apt-get install redis-server` (Debian/Ubuntu); \
         .ci/test installs it when missing."
    )
}

fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

fn temp_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "entra-jwt-redis-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

impl RedisServer {
    /// A plain server on a free port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A plain server with extra `redis-server` arguments (e.g. `--requirepass x`).
    pub fn start_with(args: &[&str]) -> Self {
        Self::launch(args.iter().map(|s| (*s).to_string()).collect(), false)
    }

    /// A TLS-only server (no plain port) with the given certificate files.
    pub fn start_tls(cert: &str, key: &str, ca: &str) -> Self {
        let args = [
            "--tls-cert-file",
            cert,
            "--tls-key-file",
            key,
            "--tls-ca-cert-file",
            ca,
            "--tls-auth-clients",
            "no",
        ];
        Self::launch(args.iter().map(|s| (*s).to_string()).collect(), true)
    }

    fn launch(args: Vec<String>, tls: bool) -> Self {
        let mut server = Self {
            port: 0,
            dir: temp_dir(),
            args,
            tls,
            child: None,
            paused: false,
        };
        // A free port can be taken by someone else before redis binds it: retry.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("could not start redis-server; its log:\n{}", server.log());
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// Starts the process on `self.port`; true once it answers.
    fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.log_path())
            .args(["--daemonize", "no"]);
        if self.tls {
            cmd.args(["--port", "0", "--tls-port", &port]);
        } else {
            cmd.args(["--port", &port]);
        }
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => redis_server_missing(),
            Err(e) => panic!("cannot run redis-server: {e}"),
        };
        self.child = Some(child);
        self.paused = false;
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_status)) = child.try_wait()
            {
                self.child = None;
                return false; // exited: port taken, or a bad argument (see the log)
            }
            if self.answers() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        false
    }

    /// Whether the server is up: PING answered (plain), or the log says it
    /// accepts connections and the port takes one (TLS).
    fn answers(&self) -> bool {
        let addr = (Ipv4Addr::LOCALHOST, self.port);
        if self.tls {
            let ready = std::fs::read_to_string(self.log_path())
                .is_ok_and(|log| log.contains("Ready to accept connections"));
            return ready && TcpStream::connect(addr).is_ok();
        }
        let Ok(mut s) = TcpStream::connect(addr) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut line = String::new();
        // A server with a password answers `-NOAUTH`: it is up all the same.
        BufReader::new(&mut s).read_line(&mut line).is_ok()
            && (line.starts_with("+PONG") || line.starts_with("-NOAUTH"))
    }

    /// `redis://127.0.0.1:PORT` (or `rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .expect("redis-server is not running")
            .id()
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} failed");
    }

    /// Freezes the server (SIGSTOP): connections open, nothing answered.
    pub fn pause(&mut self) {
        self.signal("-STOP");
        self.paused = true;
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&mut self) {
        self.signal("-CONT");
        self.paused = false;
    }

    /// Kills the server (SIGKILL) and reaps it. Its data is gone (no persistence).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    /// Kills the server if running and starts a new, empty one on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "could not restart redis-server on port {}; its log:\n{}",
            self.port,
            self.log()
        );
    }

    /// A fresh plain connection for the test's own checks.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("test connection to redis")
    }

    /// Runs a command on a fresh connection (test-side checks).
    pub fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let mut c = self.connection();
        cmd.query(&mut c).expect("test command")
    }

    /// The raw value under `key`, if any.
    pub fn raw(&self, key: &str) -> Option<Vec<u8>> {
        self.query(redis::cmd("GET").arg(key))
    }

    /// Stores `value` under `key` (no TTL).
    pub fn plant(&self, key: &str, value: &[u8]) {
        let () = self.query(redis::cmd("SET").arg(key).arg(value));
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.log_path()) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
