//! A TCP proxy between the service and Redis that injects network faults:
//! a black hole (bytes held, nothing closed), lost replies (a script call
//! forwarded, its reply swallowed, the connection closed), added latency.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, tcp::OwnedReadHalf, tcp::OwnedWriteHalf},
    sync::Notify,
};

/// What the proxy does to the traffic.
#[derive(Default)]
struct Faults {
    /// Hold every byte in both directions.
    black_hole: AtomicBool,
    /// Of each 100 script calls, how many lose their reply.
    lose_replies_percent: AtomicU32,
    /// Milliseconds added before each chunk is forwarded.
    latency_ms: AtomicU32,
    /// Replies swallowed so far.
    lost: AtomicU64,
    /// Script calls seen so far.
    calls: AtomicU64,
    /// Wakes held pumps when the black hole closes.
    released: Notify,
}

/// The proxy; stops accepting when dropped.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    faults: Arc<Faults>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy to the Redis at `port`.
    pub async fn start(port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Faults::default());
        let shared = Arc::clone(&faults);
        let accept = tokio::spawn(async move {
            let mut n = 0_u64;
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", port)).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                n += 1;
                tokio::spawn(relay(client, server, Arc::clone(&shared), n));
            }
        });
        Self {
            addr,
            faults,
            accept,
        }
    }

    /// A `redis://` URL through the proxy.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Holds (or releases) every byte in both directions.
    pub fn black_hole(&self, on: bool) {
        self.faults.black_hole.store(on, Ordering::SeqCst);
        if !on {
            self.faults.released.notify_waiters();
        }
    }

    /// Loses the reply of `percent` of script calls: the call reaches Redis
    /// and runs, its reply is swallowed and the connection closed.
    pub fn lose_replies(&self, percent: u32) {
        self.faults
            .lose_replies_percent
            .store(percent, Ordering::SeqCst);
    }

    /// Adds `ms` milliseconds before each forwarded chunk.
    pub fn latency(&self, ms: u32) {
        self.faults.latency_ms.store(ms, Ordering::SeqCst);
    }

    /// Replies lost so far.
    pub fn lost(&self) -> u64 {
        self.faults.lost.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Relays one connection; a lost reply ends it.
async fn relay(client: TcpStream, server: TcpStream, faults: Arc<Faults>, connection: u64) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // The number of replies to swallow before closing: set by the request
    // direction when a doomed call goes out.
    let doomed = Arc::new(AtomicBool::new(false));
    let up = tokio::spawn(pump(
        client_read,
        server_write,
        Arc::clone(&faults),
        Some(Arc::clone(&doomed)),
        connection,
    ));
    pump_replies(server_read, client_write, Arc::clone(&faults), doomed).await;
    // Once replies stop (a reply was lost, or Redis closed), drop both sides.
    up.abort();
}

/// Client to Redis: forwards, and marks the connection doomed when a script
/// call is chosen to lose its reply.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    faults: Arc<Faults>,
    doomed: Option<Arc<AtomicBool>>,
    connection: u64,
) {
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        hold(&faults).await;
        if let Some(doomed) = &doomed {
            let chunk = &buf[..n];
            if chunk.windows(7).any(|w| w.eq_ignore_ascii_case(b"EVALSHA")) {
                let call = faults.calls.fetch_add(1, Ordering::SeqCst);
                // Deterministic per connection and call: the same run
                // loses the same calls.
                let roll =
                    (call.wrapping_mul(2_654_435_761) ^ connection.wrapping_mul(40_503)) % 100;
                if roll < u64::from(faults.lose_replies_percent.load(Ordering::SeqCst)) {
                    doomed.store(true, Ordering::SeqCst);
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Redis to client: forwards replies; on a doomed connection, swallows the
/// next reply and returns, which closes the connection.
async fn pump_replies(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    faults: Arc<Faults>,
    doomed: Arc<AtomicBool>,
) {
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        hold(&faults).await;
        if doomed.load(Ordering::SeqCst) {
            faults.lost.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Waits out the black hole and the added latency.
async fn hold(faults: &Faults) {
    loop {
        let released = faults.released.notified();
        if !faults.black_hole.load(Ordering::SeqCst) {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), released).await;
    }
    let ms = faults.latency_ms.load(Ordering::SeqCst);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
    }
}
