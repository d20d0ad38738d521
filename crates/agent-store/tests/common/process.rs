//! Running the compiled binary: admin commands, `serve` on a free port (address read from its log),
//! graceful stop with SIGTERM and hard kill with SIGKILL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_agent-store");

pub fn run(data_dir: &std::path::Path, args: &[&str]) -> Value {
    let output = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Start `serve` on port 0 and read the bound address from its log line.
pub fn spawn_server(data_dir: &std::path::Path, extra: &[&str]) -> (Child, String) {
    spawn_server_with_env(data_dir, extra, &[])
}

/// Like [`spawn_server`], with extra environment variables.
pub fn spawn_server_with_env(
    data_dir: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // Read the log on a thread so a server that never says where it listens fails the test in
    // bounded time instead of hanging it; the thread keeps draining so the server never blocks.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("addr=").nth(1) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server did not report its address within 30 s");
    (child, format!("http://{addr}"))
}

pub fn stop(mut child: Child) {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful stop exits 0, got {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("server did not stop within 5 s of SIGTERM");
}

/// Kill the process at once (SIGKILL), as a crash would.
pub fn kill_hard(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}
