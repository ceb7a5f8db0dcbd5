//! A small disk for the tests of a full disk and a read-only one.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A small tmpfs for an app's data directory (unmounted again on drop):
/// a real full disk and a real read-only file system. Needs root, as the
/// rig has (`cargo xtask test`).
pub struct SmallDisk(PathBuf);

impl SmallDisk {
    /// Mounts a tmpfs of `size` (as mount takes it: "6m") at `at`.
    pub fn mount(at: &Path, size: &str) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "belfry-test"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mounting a tmpfs at {} needs root", at.display());
        Self(at.to_owned())
    }

    /// Remounts it with `options` ("ro", "rw").
    pub fn remount(&self, options: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {options}");
    }

    /// Fills the disk to the last byte; returns the filler to remove.
    pub fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        // The last partial block, byte by byte.
        while f.write_all(&[0]).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
