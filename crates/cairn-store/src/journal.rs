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
//!
//! It also asks for a flush when the journal is about to outgrow its
//! first 64 MiB ([`JournalSync::wants_rotation`]). fjall creates each
//! journal sparse at that size, and past it every append grows the file,
//! so each fdatasync writes the inode too: durable inserts ran 20-23k a
//! second there against 26-30k inside it. fjall starts a new journal at a
//! flush that finds the journal past 64,000,000 bytes, but flushes when a
//! memtable is full, which with the rows' memtable was at about 115 MB.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A flush that finds the journal past this many bytes starts a new one
/// (fjall 3.x, `worker_pool.rs`).
const FJALL_ROTATES_PAST: u64 = 64_000_000;

/// When to ask for that flush: past fjall's threshold by two blocks, since
/// allocated blocks round the bytes written up, and well before the end of
/// the 64 MiB fjall allocates (3 MB later, about 20k single-row inserts).
const ASK_FLUSH_PAST: u64 = FJALL_ROTATES_PAST + 8192;

/// Syncs between two looks at the journal's size.
const CHECK_EVERY_SYNCS: u32 = 128;

/// Syncs the newest journal in `dir` through a handle of its own.
pub(crate) struct JournalSync {
    dir: PathBuf,
    /// The newest journal seen, by id; found again after rotations.
    active: Option<(u64, File)>,
    /// The journal a flush was last asked for, so that it is asked once.
    flush_asked_for: Option<u64>,
    /// Syncs since the journal's size was last looked at.
    syncs_unchecked: u32,
}

impl JournalSync {
    pub(crate) fn new(dir: &Path) -> JournalSync {
        JournalSync { dir: dir.to_path_buf(), active: None, flush_asked_for: None, syncs_unchecked: 0 }
    }

    /// Whether the journal the last sync went to has passed the size at
    /// which a flush starts a new one: true once per journal, and the
    /// caller then flushes a memtable. The journal is created sparse, so
    /// the blocks allocated to it are the bytes written, rounded up. (On a
    /// file system that allocates them all at once, this asks for one
    /// flush too early per journal, and fjall starts no new journal then.)
    pub(crate) fn wants_rotation(&mut self) -> bool {
        // A `stat` per sync cost more than it saves: look every so often
        // (a hundred syncs are at most a few hundred kB of journal).
        self.syncs_unchecked += 1;
        if self.syncs_unchecked < CHECK_EVERY_SYNCS {
            return false;
        }
        self.syncs_unchecked = 0;
        self.wants_rotation_past(ASK_FLUSH_PAST)
    }

    fn wants_rotation_past(&mut self, bytes: u64) -> bool {
        let Some((id, file)) = &self.active else { return false };
        if self.flush_asked_for == Some(*id) {
            return false;
        }
        match file.metadata() {
            Ok(metadata) if metadata.blocks() * 512 >= bytes => {
                self.flush_asked_for = Some(*id);
                true
            }
            _ => false,
        }
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

    #[test]
    fn a_flush_is_asked_once_per_journal_when_its_written_part_passes_the_mark() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sync = JournalSync::new(dir.path());
        assert!(!sync.wants_rotation_past(4096), "no journal yet");
        let sparse = |id: u64| {
            let file = File::create(dir.path().join(format!("{id}.jnl"))).expect("create");
            file.set_len(1 << 20).expect("size it as fjall does");
            file
        };
        let mut journal = sparse(1);
        assert!(sync.sync().expect("sync"));
        assert!(!sync.wants_rotation_past(64 * 1024), "a sized but empty journal");
        journal.write_all(&[1; 100 * 1024]).expect("append");
        assert!(sync.sync().expect("sync"));
        assert!(sync.wants_rotation_past(64 * 1024));
        assert!(!sync.wants_rotation_past(64 * 1024), "asked once");
        // A new journal is asked for again once it fills.
        let mut next = sparse(2);
        assert!(sync.sync().expect("sync"));
        assert!(!sync.wants_rotation_past(64 * 1024));
        next.write_all(&[1; 100 * 1024]).expect("append");
        assert!(sync.sync().expect("sync"));
        assert!(sync.wants_rotation_past(64 * 1024));
    }
}
