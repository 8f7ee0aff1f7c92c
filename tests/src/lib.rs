//! The end-to-end harness: starts the real `cairn` binary on a free
//! loopback port in a temporary data directory and connects real clients.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

/// The root password every test server starts with.
pub const ROOT_PASSWORD: &str = "root-pw";

/// The `cairn` binary: `$CAIRN_BIN`, or the one cargo built next to this
/// test binary (`cargo test --workspace` builds it).
pub fn cairn_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CAIRN_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target directory");
    let binary = dir.join(format!("cairn{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} not found: run `cargo test --workspace` (which builds it) or set CAIRN_BIN",
        binary.display()
    );
    binary
}

/// A running server and its data directory.
pub struct Server {
    child: Child,
    /// Lines the server has logged on standard output.
    log_lines: Arc<AtomicUsize>,
    pub addr: SocketAddr,
    data_dir: PathBuf,
    args: Vec<String>,
    _temp: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts with extra `cairn serve` arguments.
    pub fn start_with(args: &[&str]) -> Server {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let log_lines = Arc::new(AtomicUsize::new(0));
        let (child, addr) = spawn(&data_dir, &args, &log_lines);
        Server { child, log_lines, addr, data_dir, args, _temp: temp }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A tokio-postgres config for this server.
    pub fn config(&self, user: &str, password: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port())
            .user(user)
            .password(password)
            .dbname("cairn")
            .connect_timeout(Duration::from_secs(10));
        config
    }

    pub async fn connect(&self, user: &str, password: &str) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = self.config(user, password).connect(NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    pub async fn root(&self) -> Client {
        self.connect("root", ROOT_PASSWORD).await.expect("root connects")
    }

    /// CPU seconds the server process has used (user and system), from
    /// `/proc`: whether work stopped, not how fast it ran.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).expect("read /proc stat");
        // The fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat.rsplit_once(')').expect("stat format").1.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        ticks as f64 / 100.0
    }

    /// The most memory the server has had resident since it started or
    /// since [`Server::reset_peak_memory`], in bytes (`VmHWM`).
    pub fn peak_memory(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("read /proc status");
        let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("VmHWM line");
        let kib: u64 = line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("a number");
        kib * 1024
    }

    /// Starts [`Server::peak_memory`] again from what is resident now.
    pub fn reset_peak_memory(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").expect("reset the peak (clear_refs)");
    }

    /// How many lines the server has logged so far.
    pub fn log_lines(&self) -> usize {
        self.log_lines.load(Ordering::Relaxed)
    }

    /// The server's soft open-file limit.
    pub fn open_file_limit(&self) -> u64 {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.child.id())).expect("read /proc limits");
        let line = limits.lines().find(|line| line.starts_with("Max open files")).expect("open files line");
        line.split_whitespace().nth(3).and_then(|soft| soft.parse().ok()).expect("a number")
    }

    /// Sets the server's soft open-file limit while it runs (the hard
    /// one stays, so it can be raised again).
    pub fn limit_open_files(&self, limit: u64) {
        let status = Command::new("prlimit")
            .args(["--pid", &self.child.id().to_string(), &format!("--nofile={limit}:")])
            .status()
            .expect("run prlimit");
        assert!(status.success(), "prlimit failed");
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        self.child.wait().expect("wait for cairn")
    }

    /// Starts the server again on the same data directory (new port).
    pub fn restart(&mut self) {
        let (child, addr) = spawn(&self.data_dir, &self.args, &self.log_lines);
        self.child = child;
        self.addr = addr;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `cairn serve` on port 0 and reads the address it bound from its
/// log, so no two tests can race for a port.
fn spawn(data_dir: &Path, args: &[String], log_lines: &Arc<AtomicUsize>) -> (Child, SocketAddr) {
    let mut child = Command::new(cairn_binary())
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("CAIRN_ROOT_PASSWORD", ROOT_PASSWORD)
        .env("CAIRN_LOG", "info")
        .env_remove("CAIRN_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start cairn");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = mpsc::channel();
    let log_lines = Arc::clone(log_lines);
    std::thread::spawn(move || {
        let mut sender = Some(sender);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            log_lines.fetch_add(1, Ordering::Relaxed);
            if let Some(addr) = line.split("listen=").nth(1).and_then(|rest| rest.split_whitespace().next()) {
                if let (Some(sender), Ok(addr)) = (sender.take(), addr.parse::<SocketAddr>()) {
                    let _ = sender.send(addr);
                }
            }
            // Keep draining so the server never blocks on a full pipe.
        }
    });
    match receiver.recv_timeout(Duration::from_secs(60)) {
        Ok(addr) => (child, addr),
        Err(_) => {
            let _ = child.kill();
            panic!("cairn did not report its address within 60 s");
        }
    }
}

/// The SQLSTATE of a failed statement or connection.
pub fn sqlstate(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => db.code().code().to_owned(),
        None => format!("no SQLSTATE: {error}"),
    }
}

/// Runs `sql` and returns the SQLSTATE it failed with.
pub async fn error_code(client: &Client, sql: &str) -> String {
    match client.batch_execute(sql).await {
        Ok(()) => panic!("expected `{sql}` to fail"),
        Err(error) => sqlstate(&error),
    }
}

/// The rows of a simple query, each column as text (NULL as "NULL").
pub async fn text_rows(client: &Client, sql: &str) -> Vec<Vec<String>> {
    let messages = client.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    messages
        .into_iter()
        .filter_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len()).map(|i| row.get(i).unwrap_or("NULL").to_owned()).collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The plan lines of `EXPLAIN sql`, joined.
pub async fn explain(client: &Client, sql: &str) -> String {
    text_rows(client, &format!("EXPLAIN {sql}"))
        .await
        .into_iter()
        .map(|row| row.join(" | "))
        .collect::<Vec<_>>()
        .join("\n")
}
