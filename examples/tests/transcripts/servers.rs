//! Starting a transcript's servers (example binaries or node scripts) on free
//! ports, and naming those ports in commands.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, channel};

use regex::Regex;

use crate::TIMEOUT;
use crate::transcript::{Program, Server, Transcript};

/// Every example binary, by name (cargo builds them for integration tests).
const BINARIES: &[(&str, &str)] = &[
    ("01_hello", env!("CARGO_BIN_EXE_01_hello")),
    ("02_users", env!("CARGO_BIN_EXE_02_users")),
    ("03_login", env!("CARGO_BIN_EXE_03_login")),
    ("04_claims", env!("CARGO_BIN_EXE_04_claims")),
    ("05_router", env!("CARGO_BIN_EXE_05_router")),
    ("06_validation", env!("CARGO_BIN_EXE_06_validation")),
    ("07_roles", env!("CARGO_BIN_EXE_07_roles")),
    ("08_cookies", env!("CARGO_BIN_EXE_08_cookies")),
    ("09_refresh", env!("CARGO_BIN_EXE_09_refresh")),
    ("10_rotation", env!("CARGO_BIN_EXE_10_rotation")),
    ("11_logout", env!("CARGO_BIN_EXE_11_logout")),
    ("12_current_user", env!("CARGO_BIN_EXE_12_current_user")),
    ("13_testing", env!("CARGO_BIN_EXE_13_testing")),
    ("14_production", env!("CARGO_BIN_EXE_14_production")),
    (
        "15_resource_server",
        env!("CARGO_BIN_EXE_15_resource_server"),
    ),
];

/// Kills the child when dropped, so a failing test leaves no server behind.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn lines_of(reader: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts `server` with `env` (on top of its own); returns it and the
/// address it printed on its first line.
fn start_server(
    transcript: &Transcript,
    server: &Server,
    env: &[(String, String)],
    work: &Path,
) -> Result<(KillOnDrop, String), String> {
    let name = server.program.name();
    let mut command = match &server.program {
        Program::Example(binary) => {
            let Some((_, program)) = BINARIES.iter().find(|(name, _)| name == binary) else {
                return Err(format!(
                    "{}: no example binary named {binary:?}",
                    transcript.path.display(),
                ));
            };
            Command::new(program)
        }
        Program::Node(script) => node(script)?,
    };
    let log_path = work.join(format!("{name}.log"));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    for name in examples::VARIABLES {
        command.env_remove(name);
    }
    command
        .envs(env.iter().map(|(k, v)| (k, repository_path(v))))
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let child = KillOnDrop(child);
    let first = lines_of(stdout)
        .recv_timeout(TIMEOUT)
        .map_err(|_| format!("{name} printed no first line; see {}", log_path.display()))?;
    let address = first
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("{name}: first line is {first:?}, not `listening on ...`"))?;
    Ok((child, address.to_owned()))
}

/// `node <workspace>/script`, once its packages are installed.
/// A variable's value, with a relative path of a file in the repository
/// (`examples/keys/dev-es256-public.pem`) made absolute: servers run in a
/// scratch directory, and the transcript names files as the reader does, from
/// the workspace root.
fn repository_path(value: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(value);
    if !value.starts_with('/') && value.contains('/') && file.is_file() {
        file.display().to_string()
    } else {
        value.to_owned()
    }
}

fn node(script: &str) -> Result<Command, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(script);
    if !script.is_file() {
        return Err(format!("no node script {}", script.display()));
    }
    let dir = script.parent().ok_or("a script is in a directory")?;
    let node_runs = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_runs {
        return Err(format!(
            "`node` is needed to run {} and was not found (`.ci/install` installs it; \
             Debian: `apt-get install -y nodejs npm`)",
            script.display()
        ));
    }
    if !dir.join("node_modules").is_dir() {
        return Err(format!(
            "the node packages of {} are not installed: run `npm ci --prefix {}` \
             (`.ci/install` does; Debian: `apt-get install -y nodejs npm`)",
            script.display(),
            dir.display()
        ));
    }
    let mut command = Command::new("node");
    // Nothing from the machine's node setup changes what the script does.
    command.arg(script).env_remove("NODE_OPTIONS");
    Ok(command)
}

/// For each server, the port the transcript names it by and the one it
/// listens on.
pub(crate) type Ports = Vec<(String, String)>;

/// Starts the transcript's servers, in order. Returns them and their [`Ports`].
pub(crate) fn start_servers(
    transcript: &Transcript,
    work: &Path,
) -> Result<(Vec<KillOnDrop>, Ports), String> {
    let port_of = |address: &str| {
        address
            .rsplit_once(':')
            .map(|(_, port)| port.to_owned())
            .ok_or_else(|| format!("no port in {address:?}"))
    };
    let mut running = Vec::new();
    if let [server] = transcript.servers.as_slice() {
        // One server: it picks its own port and says which.
        let mut env: Vec<(String, String)> = server
            .env
            .iter()
            .filter(|(name, _)| name != "PORT")
            .cloned()
            .collect();
        env.push(("PORT".to_owned(), "0".to_owned()));
        let (child, address) = start_server(transcript, server, &env, work)?;
        running.push(child);
        let ports = vec![(server.nominal_port().to_owned(), port_of(&address)?)];
        return Ok((running, ports));
    }
    // Several: they name each other (an issuer URL), so each port is chosen
    // before any starts, and put wherever the transcript names it.
    let mut ports = Vec::new();
    for server in &transcript.servers {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        ports.push((server.nominal_port().to_owned(), free.to_string()));
    }
    for (server, (_, free)) in transcript.servers.iter().zip(&ports) {
        let mut env: Vec<(String, String)> = server
            .env
            .iter()
            .filter(|(name, _)| name != "PORT")
            .map(|(name, value)| (name.clone(), renumber(value, &ports)))
            .collect();
        env.push(("PORT".to_owned(), free.clone()));
        let (child, address) = start_server(transcript, server, &env, work)?;
        if port_of(&address)? != *free {
            return Err(format!(
                "{} listens on {address}, not port {free}",
                server.program.name()
            ));
        }
        running.push(child);
    }
    Ok((running, ports))
}

/// `http://127.0.0.1:<nominal>` → `http://127.0.0.1:<actual>` for each pair of
/// `ports`, in one pass (so a new port is never renamed again).
pub(crate) fn renumber(text: &str, ports: &[(String, String)]) -> String {
    static URL: OnceLock<Regex> = OnceLock::new();
    let url = URL.get_or_init(|| Regex::new(r"http://127\.0\.0\.1:(\d+)").expect("valid regex"));
    url.replace_all(text, |found: &regex::Captures<'_>| {
        let port = &found[1];
        let actual = ports
            .iter()
            .find(|(nominal, _)| nominal == port)
            .map_or(port, |(_, actual)| actual.as_str());
        format!("http://127.0.0.1:{actual}")
    })
    .into_owned()
}
