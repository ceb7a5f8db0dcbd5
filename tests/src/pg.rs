//! A throwaway PostgreSQL from Debian's packages (`postgresql`) for the
//! instance's tests: `initdb` in a temp dir, the server on a Unix socket
//! in that dir (no TCP port to collide on), stopped when dropped.
//!
//! `BELFRY_TEST_DB=postgres` makes every [`crate::TestInstance`] use it:
//! each test gets its own database (`createdb`) on a cluster of its own,
//! or on the one whose socket directory `BELFRY_TEST_PG_HOST` names (a
//! cluster the caller started once for many tests, see the `pg-cluster`
//! binary).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The superuser `initdb` creates; the tests connect as it.
pub const USER: &str = "belfry";
/// The port, which only names the socket file here.
pub const PORT: &str = "5432";

/// Do the tests run the instance on PostgreSQL (`BELFRY_TEST_DB=postgres`)?
pub fn wanted() -> bool {
    std::env::var("BELFRY_TEST_DB").is_ok_and(|v| v == "postgres")
}

/// The directory of Debian's PostgreSQL programs (`/usr/lib/postgresql/<v>/bin`,
/// the newest), or `BELFRY_PG_BIN`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BELFRY_PG_BIN") {
        return dir.into();
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no /usr/lib/postgresql/<version>/bin/initdb")
        .1
}

/// A PostgreSQL server in a temp dir, stopped (fast shutdown) on drop.
pub struct Cluster {
    child: Child,
    /// Data directory and socket directory.
    dir: tempfile::TempDir,
    log: PathBuf,
}

/// `cmd` run as `nobody` when we are root: initdb and postgres refuse root.
fn as_owner(program: PathBuf, root: bool) -> Command {
    if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Cluster {
    /// initdb and start; waits until it accepts connections.
    pub fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("belfry-pg")
            .tempdir()
            .unwrap();
        let root = running_as_root();
        if root {
            give_to_nobody(dir.path());
        }
        let out = as_owner(bin.join("initdb"), root)
            .args(["-D"])
            .arg(dir.path())
            .args(["-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C", "-N"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::env::temp_dir().join(format!(
            "{}.log",
            dir.path().file_name().unwrap().to_string_lossy()
        ));
        let child = as_owner(bin.join("postgres"), root)
            .arg("-D")
            .arg(dir.path())
            .arg("-k")
            .arg(dir.path())
            .args(["-p", PORT, "-c", "listen_addresses="])
            // A throwaway cluster: durability is not what is tested.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let cluster = Self { child, dir, log };
        cluster.wait_ready();
        cluster
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new(bin_dir().join("pg_isready"))
                .arg("-h")
                .arg(self.host())
                .args(["-p", PORT, "-U", USER, "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The socket directory.
    pub fn host(&self) -> &Path {
        self.dir.path()
    }

    /// The server's process id (for a test that kills it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGINT: fast shutdown, clients disconnected, no waiting for them.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Root? (`/proc/self` belongs to the process's user.)
#[cfg(unix)]
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

// The Windows pass builds this crate; PostgreSQL tests run on Linux only.
#[cfg(not(unix))]
fn running_as_root() -> bool {
    false
}

#[cfg(unix)]
fn give_to_nobody(dir: &Path) {
    std::os::unix::fs::chown(dir, Some(uid_of("nobody")), None).unwrap();
}

#[cfg(not(unix))]
fn give_to_nobody(_: &Path) {}

#[cfg(unix)]
fn uid_of(user: &str) -> u32 {
    let out = Command::new("id").args(["-u", user]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// A fresh database of its own, on a cluster kept alive as long as it is.
pub struct Database {
    /// `postgresql://…` for the instance's `--db`.
    pub url: String,
    /// The cluster's socket directory.
    pub host: PathBuf,
    /// The database's name.
    pub name: String,
    /// The cluster, when this test started its own.
    pub cluster: Option<Arc<Cluster>>,
}

impl Database {
    /// A new database on the shared cluster (`BELFRY_TEST_PG_HOST`) or on
    /// a cluster started for it.
    pub fn create() -> Self {
        match std::env::var_os("BELFRY_TEST_PG_HOST") {
            Some(host) => Self::on(Path::new(&host), None),
            None => {
                let cluster = Arc::new(Cluster::start());
                Self::on_cluster(&cluster)
            }
        }
    }

    /// Another database on `cluster`.
    pub fn on_cluster(cluster: &Arc<Cluster>) -> Self {
        Self::on(cluster.host(), Some(Arc::clone(cluster)))
    }

    fn on(host: &Path, cluster: Option<Arc<Cluster>>) -> Self {
        let name = format!("belfry_{:016x}", fastrand::u64(..));
        let out = Command::new(bin_dir().join("createdb"))
            .arg("-h")
            .arg(host)
            .args(["-p", PORT, "-U", USER, &name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "createdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            url: url(host, &name),
            host: host.to_owned(),
            name,
            cluster,
        }
    }

    /// Runs `sql` in this database with `psql`; what it printed (unaligned,
    /// tuples only).
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(bin_dir().join("psql"))
            .arg("-h")
            .arg(&self.host)
            .args(["-p", PORT, "-U", USER, "-d", &self.name, "-XAtq", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// The URL of database `name` on the cluster whose socket is in `host`.
pub fn url(host: &Path, name: &str) -> String {
    format!(
        "postgresql:///{name}?host={}&port={PORT}&user={USER}",
        host.display()
    )
}
