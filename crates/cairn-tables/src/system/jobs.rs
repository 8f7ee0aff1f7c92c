//! `system.jobs`: background jobs and how far they got.

use cairn_catalog::{Catalog, SystemTable};
use cairn_store::entity::JOBS_BY_STATUS;
use cairn_store::Snapshot;
use cairn_types::{Job, JobId, JobStatus, UserId};
use datafusion::arrow::datatypes::DataType;

use super::*;

pub struct Jobs;

impl SystemTableDef for Jobs {
    type Row = Job;
    const NAME: &'static str = "jobs";
    const ACCESS: SystemTable = SystemTable::Jobs;

    fn columns() -> Vec<ColumnSpec<Job>> {
        vec![
            ColumnSpec {
                name: "job_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |j: &Job| Some(id_value(j.id.0))),
                equality: Some(|j| int64_value(Some(id_value(j.id.0)))),
            },
            ColumnSpec {
                name: "job_type",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |j: &Job| Some(j.job_type.as_str())),
                equality: None,
            },
            ColumnSpec {
                name: "status",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |j: &Job| Some(j.status.as_str())),
                equality: Some(|j| text_value(Some(j.status.as_str()))),
            },
            ColumnSpec {
                name: "table_id",
                data_type: DataType::Int64,
                nullable: true,
                build: |rows| int64_column(rows, |j: &Job| j.table_id.map(|t| id_value(t.0))),
                equality: None,
            },
            ColumnSpec {
                name: "progress",
                data_type: DataType::Float64,
                nullable: false,
                build: |rows| float64_column(rows, |j: &Job| Some(j.progress)),
                equality: None,
            },
            ColumnSpec {
                name: "error",
                data_type: DataType::Utf8,
                nullable: true,
                build: |rows| text_column(rows, |j: &Job| j.error.as_deref()),
                equality: None,
            },
            ColumnSpec {
                name: "created_at",
                data_type: timestamp_type(),
                nullable: false,
                build: |rows| timestamp_column(rows, |j: &Job| Some(j.created_at)),
                equality: None,
            },
            ColumnSpec {
                name: "started_at",
                data_type: timestamp_type(),
                nullable: true,
                build: |rows| timestamp_column(rows, |j: &Job| j.started_at),
                equality: None,
            },
            ColumnSpec {
                name: "finished_at",
                data_type: timestamp_type(),
                nullable: true,
                build: |rows| timestamp_column(rows, |j: &Job| j.finished_at),
                equality: None,
            },
        ]
    }

    fn owner(_: &Job) -> Option<UserId> {
        None
    }

    fn choose_path(conditions: &Conditions) -> AccessPath {
        if let Some(keys) = conditions.values("job_id") {
            AccessPath::point_get("job_id", keys)
        } else if let Some(keys) = conditions.values("status") {
            AccessPath::index(JOBS_BY_STATUS.name, "status", keys)
        } else {
            AccessPath::full_scan()
        }
    }

    fn fetch<'a>(_: &'a Catalog, snapshot: &'a Snapshot, path: &'a AccessPath) -> RowIter<'a, Job> {
        match path.kind {
            PathKind::PointGet => point_gets(snapshot, &path.keys, JobId),
            PathKind::IndexLookup(_) => Box::new(
                path.keys
                    .iter()
                    .filter_map(|k| JobStatus::parse(key_str(k)?))
                    .flat_map(move |status| snapshot.lookup(&JOBS_BY_STATUS, &status)),
            ),
            PathKind::FullScan => Box::new(snapshot.scan::<Job>()),
        }
    }
}
