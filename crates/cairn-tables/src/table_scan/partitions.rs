//! A scan in several DataFusion partitions: each partition reads its own
//! part of the key range on its own thread, and the operators above it
//! (filters, projections, partial aggregates) run per partition too, with
//! no repartitioning in between.
//!
//! Only what is large is split: the first partition reads the first
//! [`PARALLEL_AFTER_ROWS`] rows itself, and only if there are more is the
//! rest of the range cut into one part per partition. So a small table's
//! rows still come in key order, as one stream (PostgreSQL, likewise,
//! scans small tables without parallel workers), while a large one is
//! read by every core.
//!
//! The partitions of one execution share what the first of them to run
//! found ([`Found`]): the snapshot, the first rows and where the rest is
//! cut, or the columnar copy's batches. So they read one point in time,
//! and no row twice, however the scan cache changes while they start.
//!
//! A scan is split only if it reads one key range forward, without LIMIT,
//! outside a transaction block; an ordered or limited scan is one stream
//! (which reads in parallel parts of its own, handed over in key order,
//! see [`TableScan::stream_snapshot`]).

use std::sync::{Arc, Mutex, PoisonError};

use cairn_store::{KeyRange, Snapshot, TableVersion};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::SendableRecordBatchStream;

use super::{Batches, BlockView, RowPath, Rows, TableScan, PARALLEL_AFTER_ROWS};
use crate::scan_exec::in_memory;

/// How many partitions a scan's rows come in, and what they share.
#[derive(Clone)]
pub struct Partitions {
    count: usize,
    /// Set by the first partition to run; `None` for one partition, which
    /// shares nothing (a point read makes no allocation for it).
    found: Option<Arc<Mutex<Option<Arc<Found>>>>>,
}

impl Partitions {
    pub fn one() -> Partitions {
        Partitions { count: 1, found: None }
    }

    fn of(count: usize) -> Partitions {
        match count {
            0 | 1 => Partitions::one(),
            count => Partitions { count, found: Some(Arc::default()) },
        }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// What the first partition found, finding it now if this is the first.
    fn found(&self, find: impl FnOnce() -> cairn_types::Result<Found>) -> cairn_types::Result<Arc<Found>> {
        let Some(shared) = &self.found else { return find().map(Arc::new) };
        let mut found = shared.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = found.as_ref() {
            return Ok(Arc::clone(found));
        }
        let new = Arc::new(find()?);
        *found = Some(Arc::clone(&new));
        Ok(new)
    }
}

/// The rows of a split scan, as its first partition found them.
enum Found {
    /// Read already (the columnar copy): if there are more than
    /// [`PARALLEL_AFTER_ROWS`], partition `i` takes every `count`-th batch
    /// from the `i`-th on; else the first partition takes them all.
    Batches(Vec<RecordBatch>),
    /// The first rows of a snapshot's range, for the first partition, and
    /// the rest of the range cut into parts, one for each partition (there
    /// may be fewer parts than partitions, or none).
    /// A plan may be executed more than once (the recursive term of a
    /// recursive CTE is, once per step): each execution of the first
    /// partition sends the first rows again.
    Parts { snapshot: Arc<Snapshot>, first: Vec<RecordBatch>, rest: Vec<KeyRange>, tally: Option<Tally> },
    /// Inside a transaction block: the first partition reads it all.
    Block(BlockView),
}

/// The rows the parts of a whole read found, for the scan cache (which
/// copies a partition read unchanged twice, see [`crate::scan_cache`]):
/// told once every part has been read to its end.
struct Tally {
    version: TableVersion,
    /// Rows read so far, parts still being read, and whether every part
    /// that ended was read whole.
    state: Mutex<(usize, usize, bool)>,
}

impl Tally {
    /// A part ended, having read `rows` (`None`: cut short). The total,
    /// once the last part ends and all were read whole. (Parts of a later
    /// execution of the same plan count nothing: the first told it.)
    fn part_ended(&self, rows: Option<usize>) -> Option<usize> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (total, running, whole) = &mut *state;
        if *running == 0 {
            return None;
        }
        *total += rows.unwrap_or(0);
        *whole &= rows.is_some();
        *running -= 1;
        (*running == 0 && *whole).then_some(*total)
    }
}

impl TableScan {
    /// This scan in `count` partitions, if it is one that splits.
    pub fn split_into(self, count: usize) -> TableScan {
        let one_range = match &self.path {
            RowPath::FullScan => true,
            RowPath::PrefixScan(ranges) | RowPath::RangeScan(ranges) => ranges.len() == 1,
            RowPath::PointGet(_) => false,
        };
        if !one_range || self.reverse || self.limit.is_some() || self.at_most.is_some() {
            return self;
        }
        TableScan { partitions: Partitions::of(count), ..self }
    }

    /// The rows of `partition`, streamed as it is polled.
    pub(super) fn execute_partition(&self, partition: usize, schema: SchemaRef) -> cairn_types::Result<SendableRecordBatchStream> {
        let found = self.partitions.found(|| self.find())?;
        let count = self.partitions.count;
        match found.as_ref() {
            Found::Batches(batches) => {
                let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                let mine = match (rows > PARALLEL_AFTER_ROWS, partition) {
                    (true, _) => batches.iter().skip(partition).step_by(count).cloned().collect(),
                    (false, 0) => batches.clone(),
                    (false, _) => Vec::new(),
                };
                in_memory(mine, schema)
            }
            Found::Parts { snapshot, first, rest, .. } => {
                let first = match partition {
                    0 => first.clone(),
                    _ => Vec::new(),
                };
                let Some(range) = rest.get(partition).cloned() else { return in_memory(first, schema) };
                let (scan, snapshot, found) = (self.clone(), Arc::clone(snapshot), Arc::clone(&found));
                Ok(crate::scan_stream::stream(schema, move |out| {
                    if !first.into_iter().all(|batch| out.send(batch)) {
                        return Ok(());
                    }
                    let rows = scan.stream_range(&snapshot, &range, Batches::new(&scan)?, out)?;
                    if let Found::Parts { tally: Some(tally), .. } = found.as_ref() {
                        if let Some(total) = tally.part_ended(rows) {
                            scan.cache.scanned(scan.def.id, scan.partition, tally.version, total);
                        }
                    }
                    Ok(())
                }))
            }
            Found::Block(view) => match partition {
                0 => Ok(self.stream_block(view.clone(), schema)),
                _ => in_memory(Vec::new(), schema),
            },
        }
    }

    /// The scan's rows: the first ones read, and where the rest is cut.
    fn find(&self) -> cairn_types::Result<Found> {
        let (snapshot, scanned) = match self.rows()? {
            Rows::Read(batches) => return Ok(Found::Batches(batches)),
            Rows::InBlock(view) => return Ok(Found::Block(view)),
            Rows::InSnapshot { snapshot, scanned } => (snapshot, scanned),
        };
        let mut first = Batches::new(self)?;
        let mut rest = Vec::new();
        for range in self.ranges() {
            let mut read = 0;
            for row in snapshot.scan_encoded_rows(self.def.id, self.partition, &range, false) {
                let row = row?;
                if read == PARALLEL_AFTER_ROWS {
                    let after = KeyRange { start: row.primary_key().to_vec(), end: range.end.clone() };
                    rest.extend(snapshot.split_row_range(self.def.id, self.partition, &after, self.partitions.count)?);
                    break;
                }
                first.push_encoded(&row)?;
                read += 1;
            }
        }
        let first_rows = first.done + first.pending;
        let first = first.finish()?;
        let tally = scanned.and_then(|version| match rest.len() {
            0 => {
                self.cache.scanned(self.def.id, self.partition, version, first_rows);
                None
            }
            parts => Some(Tally { version, state: Mutex::new((first_rows, parts, true)) }),
        });
        Ok(Found::Parts { snapshot, first, rest, tally })
    }
}
