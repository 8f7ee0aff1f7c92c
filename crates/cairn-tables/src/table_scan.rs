//! Reading a table: which filters become key lookups, which rows a scan
//! reads (point gets, prefix and range scans, in either key order), and
//! building the projected batch.
//!
//! ```text
//! k = 1 AND j IN (2, 3)        PointGet: 2 keys          (k, j) is the key
//! k = 1                        PrefixScan: keys starting with k=1
//! k = 1 AND j > 5              RangeScan: (1, 5) exclusive .. end of k=1
//! ORDER BY k DESC LIMIT 20     any of the above, read backwards, 20 rows
//! ```
//!
//! Every pushed condition is also checked on each row read, so a path
//! that reads more than it must is still exact.

use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use cairn_catalog::Catalog;
use cairn_store::{encode_primary_key, row_key, successor, EncodedRow, KeyRange, Partition, StoredRow, StoredRowRef};
use cairn_types::{CairnError, TableDef, Timestamp, Value, ValueRef};
use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::SendableRecordBatchStream;

mod partitions;

pub use partitions::Partitions;

use crate::equality::{equality, range, Equality};
use crate::scan_cache::{Extent, Lookup, ScanCache};
use crate::scan_exec::ScanSource;
use crate::scan_stream::{BatchSender, Part};
use crate::txn::{with_writes, BlockRow, StatementSnapshot, TxCell};
use crate::values::{arrow_type, read_value, ColumnBuilder};

/// Bounds on a key column's encoded value.
type KeyBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// A filter on one primary-key column that the scan answers itself.
#[derive(Debug, Clone)]
pub enum KeyCondition {
    /// `k = v`, `k IN (…)` (or an OR of equalities, as DataFusion rewrites
    /// short IN lists).
    Equal { key_position: usize, values: Vec<Value> },
    /// `k > v`, `k <= v`, `k BETWEEN a AND b`, …: bounds on the column's
    /// encoded value, whose byte order is its value order.
    Range { key_position: usize, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>> },
}

impl KeyCondition {
    fn key_position(&self) -> usize {
        match self {
            KeyCondition::Equal { key_position, .. } | KeyCondition::Range { key_position, .. } => *key_position,
        }
    }

    fn matches(&self, value: &ValueRef<'_>) -> bool {
        match self {
            KeyCondition::Equal { values, .. } => values.iter().any(|v| v.as_ref() == *value),
            KeyCondition::Range { lower, upper, .. } => {
                let Ok(encoded) = encode_primary_key(&[&value.to_value()]) else { return false };
                let above = match lower {
                    Bound::Included(low) => encoded >= *low,
                    Bound::Excluded(low) => encoded > *low,
                    Bound::Unbounded => true,
                };
                let below = match upper {
                    Bound::Included(high) => encoded <= *high,
                    Bound::Excluded(high) => encoded < *high,
                    Bound::Unbounded => true,
                };
                above && below
            }
        }
    }
}

/// The condition `filter` puts on a key column of `def`, if it is one the
/// scan can answer.
pub fn key_condition(def: &TableDef, filter: &Expr) -> Option<KeyCondition> {
    if let Some(Equality { column, values }) = equality(filter) {
        let (key_position, column) = key_column(def, column)?;
        // IS NULL (a `None`) matches nothing: a key column is never NULL.
        return equal_condition(key_position, column, values.into_iter().flatten());
    }
    let range = range(filter)?;
    let (key_position, column) = key_column(def, range.column)?;
    let bound = |bound: Option<(&ScalarValue, bool)>| -> Option<Bound<Vec<u8>>> {
        Some(match bound {
            None => Bound::Unbounded,
            Some((literal, inclusive)) => {
                let encoded = encode_primary_key(&[&key_value(column, literal)?]).ok()?;
                if inclusive { Bound::Included(encoded) } else { Bound::Excluded(encoded) }
            }
        })
    };
    Some(KeyCondition::Range { key_position, lower: bound(range.lower)?, upper: bound(range.upper)? })
}

/// `key = value` on the key column at `key_position`, as [`key_condition`]
/// makes of `k = literal`; `None` where that would be `None`.
pub fn key_equals(def: &TableDef, key_position: usize, value: &ScalarValue) -> Option<KeyCondition> {
    let column = &def.columns[usize::from(*def.primary_key.get(key_position)?)];
    equal_condition(key_position, column, [value])
}

/// The key column equal to one of `literals`; `None` if one does not cast
/// exactly. A key column is never NULL, so `= NULL` matches nothing.
fn equal_condition<'l>(
    key_position: usize,
    column: &cairn_types::ColumnDef,
    literals: impl IntoIterator<Item = &'l ScalarValue>,
) -> Option<KeyCondition> {
    let values = literals
        .into_iter()
        .filter(|literal| !literal.is_null())
        .map(|literal| key_value(column, literal))
        .collect::<Option<_>>()?;
    Some(KeyCondition::Equal { key_position, values })
}

/// The position in the primary key of the column named `name`.
pub fn key_position(def: &TableDef, name: &str) -> Option<usize> {
    key_column(def, name).map(|(position, _)| position)
}

fn key_column<'d>(def: &'d TableDef, name: &str) -> Option<(usize, &'d cairn_types::ColumnDef)> {
    let position = def.primary_key.iter().position(|&i| def.columns[usize::from(i)].name == name)?;
    Some((position, &def.columns[usize::from(def.primary_key[position])]))
}

/// A literal as a stored value of a key column; `None` if it does not cast
/// exactly (then the filter stays with DataFusion).
fn key_value(column: &cairn_types::ColumnDef, literal: &ScalarValue) -> Option<Value> {
    // The usual key types, bound as themselves: no one-value array to
    // build and read back (that was 3% of a prepared point select).
    match (&column.data_type, literal) {
        (cairn_types::DataType::BigInt, ScalarValue::Int64(Some(v))) => return Some(Value::Int64(*v)),
        (cairn_types::DataType::Int, ScalarValue::Int32(Some(v))) => return Some(Value::Int32(*v)),
        (cairn_types::DataType::SmallInt, ScalarValue::Int16(Some(v))) => return Some(Value::Int16(*v)),
        (cairn_types::DataType::Text, ScalarValue::Utf8(Some(v))) => return Some(Value::Text(v.clone())),
        _ => {}
    }
    let target = arrow_type(&column.data_type).ok()?;
    if literal.data_type() == target {
        // Already the key's type (a bound parameter usually is): no cast to check.
        return read_value(&literal.to_array().ok()?, &column.data_type, 0).ok();
    }
    let array = literal.cast_to(&target).ok()?.to_array().ok()?;
    let value = read_value(&array, &column.data_type, 0).ok()?;
    // A cast that changes the value (2.5 to an integer key) would change the filter.
    let back = ScalarValue::try_from_array(&array, 0).ok()?.cast_to(&literal.data_type()).ok()?;
    (back == *literal).then_some(value)
}

/// The most point gets or prefix scans one scan issues before it falls
/// back to scanning the partition.
const MAX_KEY_LOOKUPS: usize = 1024;

/// The key's values if `conditions` are one value for each key column and
/// nothing else, the usual point read: then the key alone finds the row,
/// and every row it finds meets the conditions.
fn one_full_key<'c>(def: &TableDef, conditions: &'c [KeyCondition]) -> Option<Vec<&'c Value>> {
    if conditions.len() != def.primary_key.len() || conditions.is_empty() {
        return None;
    }
    (0..conditions.len())
        .map(|position| {
            let mut equal = conditions.iter().filter(|c| c.key_position() == position);
            match (equal.next(), equal.next()) {
                (Some(KeyCondition::Equal { values, .. }), None) if values.len() == 1 => Some(&values[0]),
                _ => None,
            }
        })
        .collect()
}

/// How a scan finds its rows.
#[derive(Debug, Clone)]
pub enum RowPath {
    /// Every row of the partition.
    FullScan,
    /// Gets by full primary key, in key order.
    PointGet(Vec<Vec<u8>>),
    /// The rows whose leading key columns have these values.
    PrefixScan(Vec<KeyRange>),
    /// The rows whose key lies in these ranges.
    RangeScan(Vec<KeyRange>),
}

/// Chooses a path: equality on every key column is a set of point gets; on
/// the leading ones, prefix scans; bounds on the next column narrow those
/// (or the whole partition) to ranges.
///
/// Returns the conditions the rows read must still be checked against:
/// none for a read of one full key.
pub fn row_path(def: &TableDef, conditions: Vec<KeyCondition>) -> cairn_types::Result<(RowPath, Vec<KeyCondition>)> {
    if let Some(key) = one_full_key(def, &conditions) {
        let path = RowPath::PointGet(vec![encode_primary_key(&key)?]);
        return Ok((path, Vec::new()));
    }
    Ok((path_of(def, &conditions)?, conditions))
}

fn path_of(def: &TableDef, conditions: &[KeyCondition]) -> cairn_types::Result<RowPath> {
    let mut combinations: Vec<Vec<&Value>> = vec![vec![]];
    let mut leading = 0;
    for position in 0..def.primary_key.len() {
        let Some(values) = conditions.iter().find_map(|c| match c {
            KeyCondition::Equal { key_position, values } if *key_position == position => Some(values),
            _ => None,
        }) else {
            break;
        };
        let next: Vec<Vec<&Value>> = combinations
            .iter()
            .flat_map(|prefix| {
                values.iter().map(move |value| {
                    let mut combination = prefix.clone();
                    combination.push(value);
                    combination
                })
            })
            .collect();
        if next.len() > MAX_KEY_LOOKUPS {
            break;
        }
        combinations = next;
        leading += 1;
    }
    let mut prefixes = combinations.iter().map(|values| encode_primary_key(values)).collect::<cairn_types::Result<Vec<_>>>()?;
    // `k IN (1, 1)` must not read the row twice; sorted, they read in key order.
    prefixes.sort();
    prefixes.dedup();
    if leading == def.primary_key.len() && leading > 0 {
        return Ok(RowPath::PointGet(prefixes));
    }
    let bounds: Vec<KeyBounds> = conditions
        .iter()
        .filter_map(|c| match c {
            KeyCondition::Range { key_position, lower, upper } if *key_position == leading => {
                Some((lower.clone(), upper.clone()))
            }
            _ => None,
        })
        .collect();
    if bounds.is_empty() {
        return Ok(match leading {
            0 => RowPath::FullScan,
            _ => RowPath::PrefixScan(prefixes.iter().map(|p| KeyRange::prefix(p)).collect()),
        });
    }
    // The intersection of the bounds, as [start, end) on the column's encoding.
    let mut start: Vec<u8> = Vec::new();
    let mut end: Option<Vec<u8>> = None;
    let mut empty = false;
    for (lower, upper) in &bounds {
        let low = match lower {
            Bound::Included(value) => Some(value.clone()),
            Bound::Excluded(value) => successor(value).or_else(|| {
                empty = true;
                None
            }),
            Bound::Unbounded => None,
        };
        if let Some(low) = low {
            start = start.max(low);
        }
        let high = match upper {
            Bound::Included(value) => successor(value),
            Bound::Excluded(value) => Some(value.clone()),
            Bound::Unbounded => None,
        };
        if let Some(high) = high {
            end = Some(end.map_or(high.clone(), |e| e.min(high)));
        }
    }
    if empty || end.as_ref().is_some_and(|end| *end <= start) {
        return Ok(RowPath::RangeScan(Vec::new()));
    }
    let ranges = prefixes
        .iter()
        .map(|prefix| KeyRange {
            start: [prefix.as_slice(), &start].concat(),
            end: match &end {
                Some(end) => Some([prefix.as_slice(), end].concat()),
                None => successor(prefix),
            },
        })
        .collect();
    Ok(RowPath::RangeScan(ranges))
}

/// Reads one partition of a table at execution time.
#[derive(Clone)]
pub struct TableScan {
    pub catalog: Arc<Catalog>,
    pub cache: Arc<ScanCache>,
    pub def: Arc<TableDef>,
    pub partition: Partition,
    /// An open transaction's snapshot and writes, read instead of the store.
    pub transaction: TxCell,
    /// Outside a transaction, the snapshot the statement's reads share;
    /// `None` for the only read of its statement (the direct path), which
    /// may read the latest rows without one.
    pub statement: Option<StatementSnapshot>,
    pub path: RowPath,
    /// Pushed-down key conditions that the path does not imply, checked on
    /// every row read.
    pub conditions: Vec<KeyCondition>,
    pub projection: Vec<usize>,
    pub limit: Option<usize>,
    /// Stop after this many rows, whatever the LIMIT: how the direct path
    /// bounds what it reads (unlike `limit`, not a read of a part of the
    /// partition as far as the scan cache is concerned).
    pub at_most: Option<usize>,
    /// Reads in descending key order (`ORDER BY key DESC`).
    pub reverse: bool,
    /// The most rows in one batch: the session's `batch_size` for a
    /// planned scan.
    pub batch_rows: usize,
    /// The DataFusion partitions the rows come in ([`partitions`]).
    pub partitions: Partitions,
    pub schema: SchemaRef,
}

impl ScanSource for TableScan {
    const NAME: &'static str = "TableScanExec";

    fn describe(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let columns: Vec<&str> = self.projection.iter().map(|&i| self.def.columns[i].name.as_str()).collect();
        let partition = match self.partition {
            Partition::Shared => "shared".to_owned(),
            Partition::User(user) => format!("user {user}"),
        };
        let keys: Vec<&str> =
            self.def.primary_key.iter().map(|&i| self.def.columns[usize::from(i)].name.as_str()).collect();
        let keys = keys.join(", ");
        let access = match &self.path {
            RowPath::FullScan => "FullScan".to_owned(),
            RowPath::PointGet(found) => format!("PointGet({keys}: {} keys)", found.len()),
            RowPath::PrefixScan(ranges) => format!("PrefixScan({keys}: {} prefixes)", ranges.len()),
            RowPath::RangeScan(ranges) => format!("RangeScan({keys}: {} ranges)", ranges.len()),
        };
        write!(f, "table={}, partition={partition}, access={access}", self.def.name)?;
        if self.reverse {
            write!(f, ", order=descending")?;
        }
        write!(f, ", projection=[{}]", columns.join(", "))?;
        if let Some(limit) = self.limit {
            write!(f, ", limit={limit}")?;
        }
        if self.partitions.count() > 1 {
            write!(f, ", partitions={}", self.partitions.count())?;
        }
        Ok(())
    }

    fn read(&self) -> cairn_types::Result<Vec<RecordBatch>> {
        match self.rows()? {
            Rows::Read(batches) => Ok(batches),
            Rows::InBlock(view) => {
                let mut batches = Batches::new(self)?;
                for row in self.read_block(&view) {
                    if batches.full() {
                        break;
                    }
                    batches.push_block(&row?)?;
                }
                batches.finish()
            }
            Rows::InSnapshot { snapshot, scanned } => {
                let batches = self.read_snapshot(&snapshot)?;
                let rows = batches.iter().map(RecordBatch::num_rows).sum();
                // A read cut short by `at_most` did not see the whole partition.
                if let (Some(version), false) = (scanned, self.at_most.is_some_and(|most| rows >= most)) {
                    self.cache.scanned(self.def.id, self.partition, version, rows);
                }
                Ok(batches)
            }
        }
    }

    /// As [`TableScan::read`], but a read of a snapshot runs on the
    /// blocking pool and hands its batches over as they are built
    /// ([`crate::scan_stream`]).
    fn execute(&self, partition: usize, schema: SchemaRef) -> cairn_types::Result<SendableRecordBatchStream> {
        if self.partitions.count() > 1 {
            return self.execute_partition(partition, schema);
        }
        // A read of at most a batch (point gets, a small LIMIT) is done
        // here: a thread hop would cost more than the read.
        let small = matches!(self.path, RowPath::PointGet(_)) || self.limit.is_some_and(|limit| limit <= self.batch_rows);
        let batches = match small {
            true => self.read()?,
            false => match self.rows()? {
                Rows::Read(batches) => batches,
                Rows::InSnapshot { snapshot, scanned } => return Ok(self.stream(snapshot, scanned, schema)),
                Rows::InBlock(view) => return Ok(self.stream_block(view, schema)),
            },
        };
        crate::scan_exec::in_memory(batches, schema)
    }

    fn key_columns(&self) -> Vec<usize> {
        self.def
            .primary_key
            .iter()
            .map_while(|&key| self.projection.iter().position(|&p| p == usize::from(key)))
            .collect()
    }

    fn partitions(&self) -> usize {
        self.partitions.count()
    }

    /// Ordered and limited scans are one stream.
    fn ordered(&self, descending: bool) -> Option<Self> {
        Some(TableScan { reverse: descending, partitions: Partitions::one(), ..self.clone() })
    }

    fn with_limit(&self, limit: usize) -> Option<Self> {
        let limit = Some(self.limit.map_or(limit, |l| l.min(limit)));
        Some(TableScan { limit, partitions: Partitions::one(), ..self.clone() })
    }
}

/// Where a scan's rows come from: already read (a point get, the columnar
/// copy), or a snapshot still to be read, alone or under a transaction
/// block's writes.
enum Rows {
    Read(Vec<RecordBatch>),
    InBlock(BlockView),
    InSnapshot {
        snapshot: Arc<cairn_store::Snapshot>,
        /// The partition version to tell the scan cache how many rows a
        /// whole read found (it decides what is worth copying).
        scanned: Option<cairn_store::TableVersion>,
    },
}

/// What a scan inside a transaction block reads: the block's snapshot, and
/// for each of the scan's ranges (in the order the scan reads them) the
/// block's own writes in it, taken when the scan starts. The rows are
/// merged as they are read, so a block's scan streams as any other does.
#[derive(Clone)]
struct BlockView {
    snapshot: Arc<cairn_store::Snapshot>,
    ranges: Vec<(KeyRange, Vec<(Vec<u8>, Option<StoredRow>)>)>,
}

impl TableScan {
    /// Reads `snapshot` on the blocking pool, batch by batch, as the
    /// stream is polled ([`crate::scan_stream`]).
    fn stream(&self, snapshot: Arc<cairn_store::Snapshot>, scanned: Option<cairn_store::TableVersion>, schema: SchemaRef) -> SendableRecordBatchStream {
        let scan = self.clone();
        crate::scan_stream::stream(schema, move |out| {
            if let Some(rows) = scan.stream_snapshot(&snapshot, out)? {
                if let Some(version) = scanned {
                    scan.cache.scanned(scan.def.id, scan.partition, version, rows);
                }
            }
            Ok(())
        })
    }

    /// Reads the block's view of the scan's ranges on the blocking pool,
    /// batch by batch, as the stream is polled.
    fn stream_block(&self, view: BlockView, schema: SchemaRef) -> SendableRecordBatchStream {
        let scan = self.clone();
        crate::scan_stream::stream(schema, move |out| {
            let batches = Batches::new(&scan)?;
            scan.stream_rows(scan.read_block(&view), batches, out, Batches::push_block).map(|_| ())
        })
    }

    fn rows(&self) -> cairn_types::Result<Rows> {
        let mut transaction = self.transaction.lock();
        Ok(match transaction.as_mut() {
            Some(transaction) => match &self.path {
                RowPath::PointGet(keys) => Rows::Read(self.build(self.get_in(transaction, keys)?)?),
                _ => Rows::InBlock(self.block_view(transaction)),
            },
            None if self.reads_partition_in_key_order() => self.through_cache()?,
            None => match (&self.path, &self.statement) {
                (RowPath::PointGet(keys), None) if keys.len() == 1 => Rows::Read(self.read_latest(&keys[0])?),
                _ => Rows::InSnapshot { snapshot: self.snapshot(), scanned: None },
            },
        })
    }

    /// The snapshot this read sees outside a transaction: its statement's,
    /// or (the only read of its statement) a new one.
    fn snapshot(&self) -> Arc<cairn_store::Snapshot> {
        match &self.statement {
            Some(statement) => statement.get(self.catalog.store()),
            None => Arc::new(self.catalog.snapshot()),
        }
    }

    fn ranges(&self) -> Vec<KeyRange> {
        match &self.path {
            RowPath::FullScan => vec![KeyRange::all()],
            RowPath::PrefixScan(ranges) | RowPath::RangeScan(ranges) => ranges.clone(),
            RowPath::PointGet(_) => Vec::new(),
        }
    }

    /// Whether this scan reads its partition from one end in key order,
    /// so that it reads the same rows whenever the partition's version is
    /// the same and can take them from a copy of the whole partition: no
    /// key conditions, of a table whose rows never expire (expiry depends
    /// on the clock, not on commits). LIMIT and either order are fine.
    fn reads_partition_in_key_order(&self) -> bool {
        matches!(self.path, RowPath::FullScan) && self.conditions.is_empty() && self.def.ttl_seconds.is_none()
    }

    /// A read of the partition in key order outside a transaction: from
    /// the columnar copy if the partition has not changed since it was
    /// made, otherwise from the store (see [`crate::scan_cache`]).
    fn through_cache(&self) -> cairn_types::Result<Rows> {
        let (table, partition) = (self.def.id, self.partition);
        let store = self.catalog.store();
        // The version of the rows the read must see, if they are the
        // latest (which is all the cache holds). The only read of its
        // statement needs no snapshot for a hit: it sees the latest rows.
        let (statement, version) = match &self.statement {
            Some(statement) => {
                let snapshot = statement.get(store);
                let version = store.partition_version_in(&snapshot, table, partition);
                (Some(snapshot), version)
            }
            None => (None, store.partition_version(table, partition)),
        };
        let Some(version) = version else {
            return Ok(Rows::InSnapshot { snapshot: statement.unwrap_or_else(|| Arc::new(store.snapshot())), scanned: None });
        };
        let extent = if self.limit.is_some() { Extent::Limited } else { Extent::Whole };
        // `Some(at_most)`: make a copy of at most that many rows (`None`: any).
        let fill = match self.cache.lookup(table, partition, version, &self.def.columns, extent) {
            Lookup::Hit(every_column) => return Ok(Rows::Read(self.read_copy(&every_column)?)),
            Lookup::Fill { at_most } => Some(at_most),
            Lookup::Miss => None,
        };
        // A snapshot that holds the rows at `version`.
        let snapshot = match statement {
            Some(snapshot) => snapshot,
            None => {
                let (snapshot, snapshot_version) = store.snapshot_with_version(table, partition);
                let snapshot = Arc::new(snapshot);
                if snapshot_version != Some(version) {
                    // A commit came in between: read what the snapshot
                    // holds, and leave the cache to a later read.
                    return Ok(Rows::InSnapshot { snapshot, scanned: None });
                }
                snapshot
            }
        };
        Ok(match fill {
            Some(at_most) => match self.read_every_column(&snapshot, at_most)? {
                Ok(every_column) => {
                    self.cache.insert(table, partition, version, &self.def.columns, &every_column);
                    Rows::Read(self.read_copy(&every_column)?)
                }
                Err(more_than) => {
                    self.cache.scanned(table, partition, version, more_than);
                    Rows::InSnapshot { snapshot, scanned: None }
                }
            },
            None => Rows::InSnapshot { snapshot, scanned: Some(version) },
        })
    }

    /// Every column of every row of the partition, in key order; with
    /// `at_most`, `Err(at_most + 1)` if the partition holds more rows.
    fn read_every_column(
        &self,
        snapshot: &cairn_store::Snapshot,
        at_most: Option<usize>,
    ) -> cairn_types::Result<Result<Vec<RecordBatch>, usize>> {
        let whole = TableScan {
            projection: (0..self.def.columns.len()).collect(),
            schema: crate::values::table_schema(&self.def)?,
            limit: at_most.map(|rows| rows + 1),
            at_most: None,
            reverse: false,
            ..self.clone()
        };
        let batches = whole.read_snapshot(snapshot)?;
        let Some(at_most) = at_most else { return Ok(Ok(batches)) };
        if batches.iter().map(RecordBatch::num_rows).sum::<usize>() > at_most {
            return Ok(Err(at_most + 1));
        }
        // The builders were sized for `at_most` rows: copy what they hold
        // into arrays of its size, which is what the cache keeps.
        let compact = |batch: &RecordBatch| {
            let rows = u32::try_from(batch.num_rows()).map_err(|e| CairnError::Internal(e.to_string()))?;
            take_record_batch(batch, &UInt32Array::from_iter_values(0..rows)).map_err(|e| CairnError::Internal(e.to_string()))
        };
        Ok(Ok(batches.iter().map(compact).collect::<cairn_types::Result<_>>()?))
    }

    /// This scan's rows (its order and LIMIT) and columns from batches of
    /// every column of every row of the partition, in key order.
    fn read_copy(&self, every_column: &[RecordBatch]) -> cairn_types::Result<Vec<RecordBatch>> {
        let mut wanted = self.limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let batches: Box<dyn Iterator<Item = &RecordBatch>> = match self.reverse {
            true => Box::new(every_column.iter().rev()),
            false => Box::new(every_column.iter()),
        };
        for batch in batches {
            if wanted == 0 {
                break;
            }
            let rows = batch.num_rows().min(wanted);
            wanted -= rows;
            let batch = self.project(batch)?;
            out.push(match self.reverse {
                // The last `rows` rows, last first.
                true => {
                    let last = u32::try_from(batch.num_rows()).map_err(|e| CairnError::Internal(e.to_string()))?;
                    let indices = UInt32Array::from_iter_values((last - rows as u32..last).rev());
                    take_record_batch(&batch, &indices).map_err(|e| CairnError::Internal(e.to_string()))?
                }
                false => batch.slice(0, rows),
            });
        }
        if out.is_empty() {
            out.push(RecordBatch::new_empty(Arc::clone(&self.schema)));
        }
        Ok(out)
    }

    /// This scan's columns of a batch that holds every column of the table.
    fn project(&self, every_column: &RecordBatch) -> cairn_types::Result<RecordBatch> {
        let columns = self.projection.iter().map(|&i| Arc::clone(every_column.column(i))).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(every_column.num_rows()));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options).map_err(|e| CairnError::Internal(e.to_string()))
    }

    /// The rows under `keys` as an open transaction sees them (which
    /// records them as read), in the scan's order.
    fn get_in(&self, transaction: &mut crate::txn::Transaction, keys: &[Vec<u8>]) -> cairn_types::Result<Vec<StoredRow>> {
        let mut rows = Vec::with_capacity(keys.len());
        for key in keys {
            rows.extend(transaction.get(&row_key(self.def.id, self.partition, key))?);
        }
        if self.reverse {
            rows.reverse();
        }
        Ok(rows)
    }

    /// The scan's ranges as an open transaction sees them, recorded as read.
    fn block_view(&self, transaction: &mut crate::txn::Transaction) -> BlockView {
        let mut ranges: Vec<_> = self
            .ranges()
            .into_iter()
            .map(|range| {
                let (start, end) = range.row_keys(self.def.id, self.partition);
                let writes = transaction.read_range(&start, &end);
                (range, writes)
            })
            .collect();
        if self.reverse {
            ranges.reverse();
        }
        BlockView { snapshot: Arc::clone(transaction.snapshot()), ranges }
    }

    /// The rows of `view`, lazily, in the scan's order.
    fn read_block<'v>(&'v self, view: &'v BlockView) -> impl Iterator<Item = cairn_types::Result<BlockRow<'v>>> + 'v {
        let (table, partition, reverse) = (self.def.id, self.partition, self.reverse);
        view.ranges.iter().flat_map(move |(range, writes)| {
            with_writes(view.snapshot.scan_encoded_rows(table, partition, range, reverse), writes, reverse)
        })
    }

    /// The rows the path selects from a snapshot, lazily, in the scan's order.
    fn read_from<'a>(
        &'a self,
        snapshot: &'a cairn_store::Snapshot,
    ) -> Box<dyn Iterator<Item = cairn_types::Result<EncodedRow>> + 'a> {
        let (table, partition, reverse) = (self.def.id, self.partition, self.reverse);
        if let RowPath::PointGet(keys) = &self.path {
            let get = move |key: &Vec<u8>| snapshot.get_encoded_row(table, partition, key).transpose();
            return match reverse {
                true => Box::new(keys.iter().rev().filter_map(get)),
                false => Box::new(keys.iter().filter_map(get)),
            };
        }
        let mut ranges = self.ranges();
        if reverse {
            ranges.reverse();
        }
        Box::new(ranges.into_iter().flat_map(move |range| snapshot.scan_encoded_rows(table, partition, &range, reverse)))
    }

    /// The one row under a full key, outside a transaction: read without
    /// a snapshot (see [`cairn_store::Store::get_latest_encoded_row`]).
    fn read_latest(&self, primary_key: &[u8]) -> cairn_types::Result<Vec<RecordBatch>> {
        let mut batches = Batches::new(self)?;
        if let Some(row) = self.catalog.store().get_latest_encoded_row(self.def.id, self.partition, primary_key)? {
            batches.push_encoded(&row)?;
        }
        batches.finish()
    }

    /// Reads from a snapshot, filtering (expiry, pushed key conditions,
    /// LIMIT) and decoding each row in place into batches. A long scan
    /// hands the rest of its range to more threads once it has read
    /// [`PARALLEL_AFTER_ROWS`]; short ones never pay for a thread.
    fn read_snapshot(&self, snapshot: &cairn_store::Snapshot) -> cairn_types::Result<Vec<RecordBatch>> {
        let mut batches = Batches::new(self)?;
        let mut seen = 0;
        for row in self.read_from(snapshot) {
            if batches.full() {
                break;
            }
            let row = row?;
            seen += 1;
            if seen > PARALLEL_AFTER_ROWS {
                if let Some(rest) = self.rest_of_scan(row.primary_key()) {
                    return self.read_parallel(snapshot, batches, &rest);
                }
            }
            batches.push_encoded(&row)?;
        }
        batches.finish()
    }

    /// As [`TableScan::read_snapshot`], handing each batch to `out` as soon
    /// as it is built; a long scan reads the rest of its range in parts on
    /// more threads, which `out` hands over in key order. Returns how many
    /// rows it read, or `None` if the consumer went away first.
    fn stream_snapshot(&self, snapshot: &Arc<cairn_store::Snapshot>, out: &BatchSender) -> cairn_types::Result<Option<usize>> {
        let mut batches = Batches::new(self)?;
        let mut seen = 0;
        for row in self.read_from(snapshot) {
            if batches.full() {
                break;
            }
            let row = row?;
            seen += 1;
            if seen > PARALLEL_AFTER_ROWS {
                if let Some(rest) = self.rest_of_scan(row.primary_key()) {
                    return self.stream_parallel(snapshot, batches, &rest, out);
                }
            }
            batches.push_encoded(&row)?;
            if !batches.hand_over(out) || (seen % ROWS_BETWEEN_CHECKS == 0 && out.is_closed()) {
                return Ok(None);
            }
        }
        batches.finish_into(out)
    }

    /// Streams `rest` in as many parts as there are cores: the first on
    /// this thread with `batches`, each other on a thread of its own.
    fn stream_parallel(
        &self,
        snapshot: &Arc<cairn_store::Snapshot>,
        batches: Batches<'_>,
        rest: &KeyRange,
        out: &BatchSender,
    ) -> cairn_types::Result<Option<usize>> {
        let threads = crate::cores().min(MAX_SCAN_THREADS);
        let parts = snapshot.split_row_range(self.def.id, self.partition, rest, threads)?;
        let Some((first, others)) = parts.split_first() else { return batches.finish_into(out) };
        let others: Vec<Part> = others
            .iter()
            .map(|range| {
                let (scan, snapshot, range) = (self.clone(), Arc::clone(snapshot), range.clone());
                out.part(move |out| scan.stream_range(&snapshot, &range, Batches::new(&scan)?, out).map(|_| ()))
            })
            .collect();
        let Some(rows) = self.stream_range(snapshot, first, batches, out)? else { return Ok(None) };
        // The other parts' rows are not counted: the cache needs the count
        // only to tell partitions under `LIMITED_COPY_ROWS` from larger
        // ones, and a scan that split has read more than that already.
        Ok(out.then(others).then_some(rows))
    }

    /// Every row of `range`, in key order, into `batches` and on to `out`.
    fn stream_range(
        &self,
        snapshot: &cairn_store::Snapshot,
        range: &KeyRange,
        batches: Batches<'_>,
        out: &BatchSender,
    ) -> cairn_types::Result<Option<usize>> {
        let rows = snapshot.scan_encoded_rows(self.def.id, self.partition, range, false);
        self.stream_rows(rows, batches, out, Batches::push_encoded)
    }

    /// `rows`, up to the scan's LIMIT, into `batches` with `push` and on to
    /// `out` as each batch fills. Returns how many rows it kept, or `None`
    /// if the consumer went away first.
    fn stream_rows<'s, R>(
        &self,
        rows: impl Iterator<Item = cairn_types::Result<R>>,
        mut batches: Batches<'s>,
        out: &BatchSender,
        push: impl Fn(&mut Batches<'s>, &R) -> cairn_types::Result<()>,
    ) -> cairn_types::Result<Option<usize>> {
        for (seen, row) in rows.enumerate() {
            if batches.full() {
                break;
            }
            push(&mut batches, &row?)?;
            if !batches.hand_over(out) || (seen % ROWS_BETWEEN_CHECKS == 0 && out.is_closed()) {
                return Ok(None);
            }
        }
        batches.finish_into(out)
    }

    /// The part of the scan's one range from `next` on, if the scan may
    /// read it in parallel parts: in key order (its parts are concatenated
    /// in order) and without LIMIT (which stops one scan, not several).
    fn rest_of_scan(&self, next: &[u8]) -> Option<KeyRange> {
        if self.reverse || self.limit.is_some() || self.at_most.is_some() {
            return None;
        }
        let end = match &self.path {
            RowPath::FullScan => None,
            RowPath::PrefixScan(ranges) | RowPath::RangeScan(ranges) if ranges.len() == 1 => ranges[0].end.clone(),
            _ => return None,
        };
        Some(KeyRange { start: next.to_vec(), end })
    }

    /// Reads `rest` in as many parts as there are cores, `batches` going on
    /// with the first part on this thread.
    fn read_parallel(
        &self,
        snapshot: &cairn_store::Snapshot,
        batches: Batches<'_>,
        rest: &KeyRange,
    ) -> cairn_types::Result<Vec<RecordBatch>> {
        let threads = crate::cores().min(MAX_SCAN_THREADS);
        let parts = snapshot.split_row_range(self.def.id, self.partition, rest, threads)?;
        let read_part = |range: &KeyRange, mut batches: Batches<'_>| -> cairn_types::Result<Vec<RecordBatch>> {
            for row in snapshot.scan_encoded_rows(self.def.id, self.partition, range, false) {
                batches.push_encoded(&row?)?;
            }
            batches.finish()
        };
        let Some((first, others)) = parts.split_first() else { return batches.finish() };
        std::thread::scope(|scope| {
            let others: Vec<_> =
                others.iter().map(|range| scope.spawn(move || read_part(range, Batches::new(self)?))).collect();
            let mut read = read_part(first, batches)?;
            for part in others {
                let batches = part.join().map_err(|_| CairnError::Internal("a scan thread panicked".into()))??;
                read.extend(batches.into_iter().filter(|batch| batch.num_rows() > 0));
            }
            Ok(read)
        })
    }

    fn build(&self, found: Vec<StoredRow>) -> cairn_types::Result<Vec<RecordBatch>> {
        let mut batches = Batches::new(self)?;
        for row in &found {
            if batches.full() {
                break;
            }
            batches.push(&row.as_ref())?;
        }
        batches.finish()
    }

    fn matches(&self, row: &[ValueRef<'_>]) -> bool {
        self.conditions.iter().all(|condition| {
            let column = usize::from(self.def.primary_key[condition.key_position()]);
            row.get(column).is_some_and(|value| condition.matches(value))
        })
    }
}

/// The most rows in one batch of a scan no planner made (the direct key
/// path's): DataFusion's default `batch_size`, big enough that per-batch
/// work vanishes, small enough to stay in cache.
pub const BATCH_ROWS: usize = 8192;

/// Rows a scan reads on its own thread before it splits the rest of its
/// range over more.
const PARALLEL_AFTER_ROWS: usize = 4 * BATCH_ROWS;

/// Rows a streaming scan reads between checks that its consumer is still
/// there (rows that do not match fill no batch, so no send notices).
const ROWS_BETWEEN_CHECKS: usize = 1024;

/// The most threads one scan reads with.
const MAX_SCAN_THREADS: usize = 8;

/// The batches of one scan, as its rows are read.
struct Batches<'s> {
    scan: &'s TableScan,
    now: Timestamp,
    columns: Vec<ColumnBuilder<'s>>,
    /// `(table column, output column)` for each projected column, by table
    /// column: the order a stored row's values come in.
    by_position: Vec<(usize, usize)>,
    /// Rows in the batch being built.
    pending: usize,
    /// Rows in the batches already built.
    done: usize,
    batches: Vec<RecordBatch>,
}

impl<'s> Batches<'s> {
    fn new(scan: &'s TableScan) -> cairn_types::Result<Self> {
        // Point reads get what they can find; big builders would cost a
        // point read more than its read.
        let most = match &scan.path {
            RowPath::PointGet(keys) => keys.len().min(scan.batch_rows),
            _ => scan.batch_rows,
        };
        let capacity = scan.limit.unwrap_or(most).min(most);
        let columns = scan
            .projection
            .iter()
            .map(|&i| ColumnBuilder::new(&scan.def.columns[i].name, &scan.def.columns[i].data_type, capacity))
            .collect::<cairn_types::Result<_>>()?;
        let mut by_position: Vec<(usize, usize)> = scan.projection.iter().enumerate().map(|(output, &i)| (i, output)).collect();
        by_position.sort_unstable();
        Ok(Batches { scan, now: Timestamp::now(), columns, by_position, pending: 0, done: 0, batches: Vec::new() })
    }

    /// Whether the scan's LIMIT (or its `at_most`) is reached.
    fn full(&self) -> bool {
        let read = self.done + self.pending;
        self.scan.limit.is_some_and(|limit| read >= limit) || self.scan.at_most.is_some_and(|most| read >= most)
    }

    /// Adds `row` if it is live and matches the pushed conditions.
    fn push(&mut self, row: &StoredRowRef<'_>) -> cairn_types::Result<()> {
        if row.is_expired(self.now) || !self.scan.matches(&row.values) {
            return Ok(());
        }
        for (column, &i) in self.columns.iter_mut().zip(&self.scan.projection) {
            // A row shorter than the table was written before a column was added.
            column.append(row.values.get(i).unwrap_or(&ValueRef::Null))?;
        }
        self.row_added()
    }

    /// As [`Batches::push`], reading the stored row a value at a time and
    /// only as far as its last projected column. (Rows to check against key
    /// conditions are decoded whole, since the check needs their values.)
    fn push_encoded(&mut self, row: &EncodedRow) -> cairn_types::Result<()> {
        if !self.scan.conditions.is_empty() {
            return self.push(&row.decode()?);
        }
        let values = row.values()?;
        if values.is_expired(self.now) {
            return Ok(());
        }
        let mut wanted = self.by_position.iter().peekable();
        for (position, value) in values.enumerate() {
            let Some(&&(next, _)) = wanted.peek() else { break };
            let value = value?;
            if position < next {
                continue;
            }
            while let Some(&(_, output)) = wanted.next_if(|(i, _)| *i == position) {
                self.columns[output].append(&value)?;
            }
        }
        // A row shorter than the table was written before a column was added.
        for &(_, output) in wanted {
            self.columns[output].append(&ValueRef::Null)?;
        }
        self.row_added()
    }

    fn row_added(&mut self) -> cairn_types::Result<()> {
        self.pending += 1;
        if self.pending == self.scan.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> cairn_types::Result<()> {
        let arrays = self.columns.iter_mut().map(ColumnBuilder::finish).collect::<cairn_types::Result<Vec<ArrayRef>>>()?;
        let batch = RecordBatch::try_new_with_options(
            Arc::clone(&self.scan.schema),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(self.pending)),
        )
        .map_err(|e| CairnError::Internal(e.to_string()))?;
        self.done += self.pending;
        self.pending = 0;
        self.batches.push(batch);
        Ok(())
    }

    /// A row as a transaction block sees it.
    fn push_block(&mut self, row: &BlockRow<'_>) -> cairn_types::Result<()> {
        match row {
            BlockRow::Stored(row) => self.push_encoded(row),
            BlockRow::Written { row, .. } => self.push(&row.as_ref()),
        }
    }

    /// Hands the batches built so far to `out`; false if it is gone.
    fn hand_over(&mut self, out: &BatchSender) -> bool {
        std::mem::take(&mut self.batches).into_iter().all(|batch| out.send(batch))
    }

    /// Hands over the rest; the rows read in all, or `None` if `out` is gone.
    fn finish_into(mut self, out: &BatchSender) -> cairn_types::Result<Option<usize>> {
        if self.pending > 0 {
            self.flush()?;
        }
        let rows = self.done;
        Ok(self.hand_over(out).then_some(rows))
    }

    /// The batches; at least one, empty if no row matched, so that the
    /// schema always comes through.
    fn finish(mut self) -> cairn_types::Result<Vec<RecordBatch>> {
        if self.pending > 0 || self.batches.is_empty() {
            self.flush()?;
        }
        Ok(self.batches)
    }
}
