//! Connection threads: one single-threaded tokio runtime per core, each
//! running the connections it was handed from start to end.
//!
//! Why not tokio's work-stealing runtime: a point query costs the server
//! about 11 µs of CPU when its connection's wakeups stay on one thread, and
//! about 18 µs on the multi-threaded runtime with two workers, where every
//! readable socket is a notification to another worker and a steal
//! (measured with pgbench, 4 clients on 2 cores; docs/performance.md). A
//! connection's work is a strict request-response sequence, so it has
//! nothing to gain from moving between threads. Heavy work still leaves
//! the thread: plans that need DataFusion run on the engine's compute
//! runtime (`cairn-sql`'s `compute`), writes too large to run inline and
//! catalog work go to tokio's blocking pool.
//!
//! A new connection goes to the thread with the fewest live connections,
//! so long-lived pools spread evenly whatever order they connect in.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use cairn_types::{CairnError, Result};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

struct ConnectionThread {
    handoff: mpsc::UnboundedSender<(std::net::TcpStream, SocketAddr)>,
    live: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

pub(crate) struct ConnectionThreads {
    threads: Vec<ConnectionThread>,
}

impl ConnectionThreads {
    /// Starts `count` threads; each runs every connection it is handed
    /// with `serve`, to its end.
    pub(crate) fn start<F, S>(count: usize, serve: S) -> Result<ConnectionThreads>
    where
        S: Fn(TcpStream, SocketAddr) -> F + Clone + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let threads = (0..count.max(1))
            .map(|index| ConnectionThread::start(index, serve.clone()))
            .collect::<Result<_>>()?;
        Ok(ConnectionThreads { threads })
    }

    /// Hands `socket` to the least loaded thread.
    pub(crate) fn hand_off(&self, socket: TcpStream, peer: SocketAddr) -> Result<()> {
        let socket = socket.into_std().map_err(|e| CairnError::Internal(format!("cannot hand off a connection: {e}")))?;
        let thread = self
            .threads
            .iter()
            .min_by_key(|thread| thread.live.load(Ordering::Relaxed))
            .ok_or_else(|| CairnError::Internal("no connection thread".into()))?;
        // Counted before the send, so that the thread's count down when
        // the connection ends can never come first.
        thread.live.fetch_add(1, Ordering::Relaxed);
        thread.handoff.send((socket, peer)).map_err(|_| {
            thread.live.fetch_sub(1, Ordering::Relaxed);
            CairnError::Internal("a connection thread has stopped".into())
        })
    }

    /// Closes every connection and waits for the threads to end, so that
    /// no write is in flight once this returns.
    pub(crate) fn stop(self) {
        for ConnectionThread { handoff, thread, .. } in self.threads {
            drop(handoff);
            if thread.join().is_err() {
                tracing::error!("a connection thread panicked");
            }
        }
    }
}

impl ConnectionThread {
    fn start<F, S>(index: usize, serve: S) -> Result<ConnectionThread>
    where
        S: Fn(TcpStream, SocketAddr) -> F + Clone + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        // IO and timers only: a runtime with the process driver enabled
        // reaps child processes each time it parks, 2% of a point query.
        // Statements are parsed and planned here: stacks as deep as the
        // compute runtime's (`cairn_sql::nesting`).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .thread_stack_size(cairn_sql::nesting::STATEMENT_STACK_BYTES)
            .build()
            .map_err(|e| CairnError::Internal(format!("cannot start a connection runtime: {e}")))?;
        let (handoff, mut arrivals) = mpsc::unbounded_channel::<(std::net::TcpStream, SocketAddr)>();
        let live = Arc::new(AtomicUsize::new(0));
        let thread_live = Arc::clone(&live);
        let thread = std::thread::Builder::new()
            .name(format!("cairn-conn-{index}"))
            .stack_size(cairn_sql::nesting::STATEMENT_STACK_BYTES)
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some((socket, peer)) = arrivals.recv().await {
                        let live = LiveConnection(Arc::clone(&thread_live));
                        let serve = serve.clone();
                        tokio::spawn(async move {
                            let _live = live;
                            match TcpStream::from_std(socket) {
                                Ok(socket) => serve(socket, peer).await,
                                Err(error) => tracing::warn!(%peer, %error, "cannot register a connection"),
                            }
                        });
                    }
                });
                // Dropping the runtime here cancels the connections still open.
            })
            .map_err(|e| CairnError::Internal(format!("cannot start a connection thread: {e}")))?;
        Ok(ConnectionThread { handoff, live, thread })
    }
}

/// Counts a connection as live on its thread until it ends.
struct LiveConnection(Arc<AtomicUsize>);

impl Drop for LiveConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Answers each connection with the name of the thread serving it,
    /// then holds it open until the client leaves; counts those open.
    fn name_thread(open: Arc<AtomicUsize>) -> impl Fn(TcpStream, SocketAddr) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Clone {
        move |mut socket, _peer| {
            let open = Arc::clone(&open);
            Box::pin(async move {
                let _open = LiveConnection(Arc::clone(&open));
                open.fetch_add(1, Ordering::Relaxed);
                let name = std::thread::current().name().unwrap_or_default().to_owned();
                let mut request = [0u8; 1];
                if socket.read_exact(&mut request).await.is_ok() {
                    let _ = socket.write_all(name.as_bytes()).await;
                    let _ = socket.shutdown().await;
                }
                let _ = socket.read(&mut request).await;
            })
        }
    }

    async fn serving_thread(address: SocketAddr) -> (tokio::net::TcpStream, String) {
        let mut client = tokio::net::TcpStream::connect(address).await.expect("connect");
        client.write_all(b"?").await.expect("write");
        let mut name = String::new();
        client.read_to_string(&mut name).await.expect("read");
        (client, name)
    }

    #[tokio::test]
    async fn connections_spread_over_the_threads_and_end_with_stop() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        // Up while a connection is served, down when it ends.
        let open = Arc::new(AtomicUsize::new(0));
        let threads = ConnectionThreads::start(2, name_thread(Arc::clone(&open))).expect("start");
        let mut clients = Vec::new();
        for _ in 0..4 {
            let connecting = tokio::spawn(serving_thread(address));
            let (socket, peer) = listener.accept().await.expect("accept");
            threads.hand_off(socket, peer).expect("hand off");
            clients.push(connecting.await.expect("client"));
        }
        let mut names: Vec<&str> = clients.iter().map(|(_, name)| name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["cairn-conn-0", "cairn-conn-0", "cairn-conn-1", "cairn-conn-1"]);

        // A connection that ended frees its place: the next goes there.
        let (ended, ended_on) = clients.swap_remove(0);
        drop(ended);
        let live = |threads: &ConnectionThreads| -> usize { threads.threads.iter().map(|t| t.live.load(Ordering::Relaxed)).sum() };
        for _ in 0..500 {
            if live(&threads) == 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!((live(&threads), open.load(Ordering::Relaxed)), (3, 3));
        let connecting = tokio::spawn(serving_thread(address));
        let (socket, peer) = listener.accept().await.expect("accept");
        threads.hand_off(socket, peer).expect("hand off");
        let (_client, name) = connecting.await.expect("client");
        assert_eq!(name, ended_on);

        // Stopping ends every connection still open, and waits for them.
        tokio::task::spawn_blocking(move || threads.stop()).await.expect("stop");
        assert_eq!(open.load(Ordering::Relaxed), 0);
    }
}
