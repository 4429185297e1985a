//! A TCP proxy the test owns, between the program under test and PostgreSQL. `cut` drops every
//! open connection and turns new ones away (accepted, then closed at once, as a server that is
//! going down would) until `restore`: a network partition or a database restart, on demand.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct Switch {
    refusing: AtomicBool,
    /// Bumped by every cut; a connection lives only while the number it started with holds.
    cuts: watch::Sender<u64>,
    /// Connections turned away while cut, so a test can wait until the program met the outage.
    refused: AtomicUsize,
}

pub struct TcpProxy {
    addr: SocketAddr,
    switch: Arc<Switch>,
    task: JoinHandle<()>,
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
        // Ends the connections too: each one watches the cut counter.
        self.switch.cuts.send_modify(|n| *n += 1);
    }
}

impl TcpProxy {
    /// Listens on a free local port and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cuts, _) = watch::channel(0);
        let switch = Arc::new(Switch {
            refusing: AtomicBool::new(false),
            cuts,
            refused: AtomicUsize::new(0),
        });
        let task = tokio::spawn(accept(listener, upstream, switch.clone()));
        TcpProxy { addr, switch, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections refused since the start.
    pub fn refused(&self) -> usize {
        self.switch.refused.load(Ordering::SeqCst)
    }

    /// Drops every open connection and refuses new ones until `restore`.
    pub fn cut(&self) {
        self.switch.refusing.store(true, Ordering::SeqCst);
        self.switch.cuts.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.switch.refusing.store(false, Ordering::SeqCst);
    }
}

async fn accept(listener: TcpListener, upstream: SocketAddr, switch: Arc<Switch>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        // Subscribed before the check, so a cut right after it still ends this connection.
        let cuts = switch.cuts.subscribe();
        if switch.refusing.load(Ordering::SeqCst) {
            switch.refused.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        tokio::spawn(forward(client, upstream, cuts));
    }
}

async fn forward(mut client: TcpStream, upstream: SocketAddr, mut cuts: watch::Receiver<u64>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cuts.changed() => {}
    }
    // Dropping both ends closes them: the program sees its connection die mid-query.
}

/// A proxy in front of `pool`'s server, and a small pool that goes through it.
pub async fn behind_a_proxy(pool: &PgPool) -> (TcpProxy, PgPool) {
    let options = (*pool.connect_options()).clone();
    let upstream = format!("{}:{}", options.get_host(), options.get_port());
    let upstream = tokio::net::lookup_host(upstream)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = TcpProxy::start(upstream).await;
    let proxied = PgPoolOptions::new()
        .max_connections(5)
        // An outage shows as a failure soon, as in production it would after the timeout.
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(options.host("127.0.0.1").port(proxy.port()))
        .await
        .unwrap();
    (proxy, proxied)
}
