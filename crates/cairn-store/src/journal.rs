//! Syncing fjall's journal without its lock.
//!
//! `Database::persist` fdatasyncs the journal while holding the journal's
//! lock, so every writer that arrives during a sync waits for the disk
//! before it can even append. But fdatasync works on the file, not on the
//! handle: a handle of our own to the same file makes the same bytes
//! durable, while writers keep appending through fjall's. Written by hand
//! because fjall has no lock-free sync.
//!
//! This leans on three things fjall does (3.x): the journal is
//! `<id>.jnl` in the database directory; a rotation fsyncs the old journal
//! before it creates `<id + 1>.jnl`; and a commit with
//! `PersistMode::Buffer` hands its bytes to the OS before it returns. So
//! for every batch appended before a sync starts, either its journal is
//! the newest one the sync finds (and is synced), or a later journal
//! exists, and rotation made the batch durable already. If the journal
//! cannot be found, [`JournalSync`] falls back to fjall's own sync.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Syncs the newest journal in `dir` through a handle of its own.
pub(crate) struct JournalSync {
    dir: PathBuf,
    /// The newest journal seen, by id; found again after rotations.
    active: Option<(u64, File)>,
}

impl JournalSync {
    pub(crate) fn new(dir: &Path) -> JournalSync {
        JournalSync { dir: dir.to_path_buf(), active: None }
    }

    /// Makes everything appended to the journal so far durable. `Ok(false)`
    /// if there is no journal file to sync (the caller syncs through fjall).
    pub(crate) fn sync(&mut self) -> io::Result<bool> {
        let Some(file) = self.newest()? else { return Ok(false) };
        file.sync_data()?;
        Ok(true)
    }

    fn newest(&mut self) -> io::Result<Option<&File>> {
        let mut id = match &self.active {
            Some((id, _)) => *id,
            None => match newest_id(&self.dir)? {
                Some(id) => {
                    self.active = Some((id, open(&self.path(id))?));
                    id
                }
                None => return Ok(None),
            },
        };
        // Rotation names the next journal id + 1; one `open` per sync
        // checks that none was made since the last.
        loop {
            match open(&self.path(id + 1)) {
                Ok(file) => {
                    id += 1;
                    self.active = Some((id, file));
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => break,
                Err(error) => return Err(error),
            }
        }
        Ok(self.active.as_ref().map(|(_, file)| file))
    }

    /// The journal the last sync went to, and the newest in the directory.
    #[cfg(test)]
    pub(crate) fn ids(&self) -> (Option<u64>, Option<u64>) {
        (self.active.as_ref().map(|(id, _)| *id), newest_id(&self.dir).expect("list journals"))
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.jnl"))
    }
}

/// Opened for writing, though nothing is written through it: some systems
/// refuse to sync a read-only handle.
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).open(path)
}

fn newest_id(dir: &Path) -> io::Result<Option<u64>> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let id = name.to_str().and_then(|name| name.strip_suffix(".jnl")).and_then(|id| id.parse::<u64>().ok());
        newest = newest.max(id);
    }
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_journal_is_found_and_followed_across_rotations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sync = JournalSync::new(dir.path());
        assert!(!sync.sync().expect("no journal yet"), "nothing to sync without a journal");

        for name in ["3.jnl", "7.jnl", "lock", "version"] {
            std::fs::write(dir.path().join(name), b"").expect("write");
        }
        assert!(sync.sync().expect("sync"));
        assert_eq!(sync.ids().0, Some(7));

        // Rotations since the last sync, and the old journal deleted.
        std::fs::write(dir.path().join("8.jnl"), b"").expect("write");
        std::fs::write(dir.path().join("9.jnl"), b"").expect("write");
        std::fs::remove_file(dir.path().join("7.jnl")).expect("remove");
        assert!(sync.sync().expect("sync"));
        assert_eq!(sync.ids().0, Some(9));
    }
}
