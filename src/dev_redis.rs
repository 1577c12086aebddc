//! A private `redis-server` child process: `--dev` mode's Redis, and the
//! test harness's.

use std::{
    io,
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::{Instant, sleep},
};

/// How long a fresh redis-server may take to answer PING.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A `redis-server` on a free loopback port, killed when dropped.
pub struct RedisProcess {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    args: Vec<String>,
}

impl RedisProcess {
    /// Starts `redis-server` from PATH on a free loopback port, with
    /// `args` added to its command line, and waits until it answers PING.
    pub async fn start(args: &[&str]) -> io::Result<Self> {
        let mut process = Self {
            child: None,
            port: 0,
            dir: tempfile::tempdir()?,
            args: args.iter().map(|&a| a.to_owned()).collect(),
        };
        // Another process may take the port between our probe and Redis's
        // bind; another port is then tried.
        let mut attempts = 0;
        loop {
            process.port = free_port()?;
            match process.spawn().await {
                Ok(()) => return Ok(process),
                Err(error) if attempts == 4 => return Err(error),
                Err(_) => attempts += 1,
            }
        }
    }

    async fn spawn(&mut self) -> io::Result<()> {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot run redis-server (install it: apt-get install -y redis-server): {e}"
                    ),
                )
            })?;
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!("redis-server exited: {status}")));
            }
            if ping(self.port).await {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::other("redis-server did not answer PING in time"));
            }
            sleep(Duration::from_millis(5)).await;
        }
    }

    /// The URL to reach it.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its working directory (RDB and AOF files).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the same directory and
    /// arguments (so an AOF, if enabled, is replayed): for fault tests.
    #[cfg(feature = "testkit")]
    pub async fn restart(&mut self) -> io::Result<()> {
        self.kill();
        let deadline = Instant::now() + READY_WITHIN;
        // The port may linger for a moment after the kill.
        loop {
            match self.spawn().await {
                Ok(()) => return Ok(()),
                Err(error) if Instant::now() > deadline => return Err(error),
                Err(_) => sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port: one the system handed out and that was released
/// at once (another process may take it before it is bound again).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Whether a Redis on `port` answers `PING` with `+PONG` (not `-LOADING`).
async fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut reply = [0_u8; 7];
    stream.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG\r\n"
}
