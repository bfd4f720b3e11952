//! A TCP proxy that a test can cut and restore, to take a real server "down" and bring it
//! back without touching the server itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards connections from a local port to a target while enabled.
pub struct TcpProxy {
    addr: SocketAddr,
    enabled: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
    cut: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Starts a proxy on a free loopback port, forwarding to `target`.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy address");
        let enabled = Arc::new(AtomicBool::new(true));
        let (cut, cut_rx) = watch::channel(0u64);
        let flag = enabled.clone();
        let active = Arc::new(AtomicUsize::new(0));
        let counter = active.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !flag.load(Ordering::SeqCst) {
                    // Refuse: close at once, as a dead server would.
                    drop(inbound);
                    continue;
                }
                let mut cut_rx = cut_rx.clone();
                // Only cuts after this connection was accepted concern it.
                cut_rx.borrow_and_update();
                let counter = counter.clone();
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        counter.fetch_sub(1, Ordering::SeqCst);
                        return;
                    };
                    {
                        let (mut ri, mut wi) = inbound.into_split();
                        let (mut ro, mut wo) = outbound.into_split();
                        tokio::select! {
                            _ = tokio::io::copy(&mut ri, &mut wo) => {}
                            _ = tokio::io::copy(&mut ro, &mut wi) => {}
                            _ = cut_rx.changed() => {}
                        }
                        // The four halves are dropped here, closing both sockets, before
                        // the connection stops counting as active.
                    }
                    counter.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        TcpProxy {
            addr,
            enabled,
            active,
            cut,
            task,
        }
    }

    /// The local address clients should connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every open connection and refuses new ones; returns once every forwarded
    /// connection is closed.
    pub async fn disable(&self) {
        self.cut_now();
        for _ in 0..500 {
            if self.active.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn cut_now(&self) {
        self.enabled.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Accepts and forwards connections again.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut_now();
        self.task.abort();
    }
}
