//! The system models: what the catalog stores, one struct per kind of object.

use serde::{Deserialize, Serialize};

use crate::{
    AccessLevel, JobId, LiveQueryId, NamespaceId, Role, SessionId, StorageId, TableId, TableKind,
    Timestamp, UserId,
};

/// A user account. `password_hash` is an scrypt PHC string; it never leaves
/// the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub email: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set by `DROP USER`: the account is soft-deleted and can no longer log in.
    pub deleted_at: Option<Timestamp>,
}

impl User {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// A namespace: what PostgreSQL calls a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub id: NamespaceId,
    pub name: String,
    pub created_at: Timestamp,
}

/// The SQL type of a column, as declared.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    Boolean,
    SmallInt,
    Int,
    BigInt,
    Real,
    Double,
    Numeric { precision: u8, scale: i8 },
    Text,
    Varchar { max_len: Option<u32> },
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    Array(Box<DataType>),
}

impl DataType {
    /// The name PostgreSQL's `format_type` would print.
    pub fn sql_name(&self) -> String {
        match self {
            DataType::Boolean => "boolean".into(),
            DataType::SmallInt => "smallint".into(),
            DataType::Int => "integer".into(),
            DataType::BigInt => "bigint".into(),
            DataType::Real => "real".into(),
            DataType::Double => "double precision".into(),
            DataType::Numeric { precision, scale } => format!("numeric({precision},{scale})"),
            DataType::Text => "text".into(),
            DataType::Varchar { max_len: Some(n) } => format!("character varying({n})"),
            DataType::Varchar { max_len: None } => "character varying".into(),
            DataType::Bytea => "bytea".into(),
            DataType::Date => "date".into(),
            DataType::Time => "time without time zone".into(),
            DataType::Timestamp => "timestamp without time zone".into(),
            DataType::TimestampTz => "timestamp with time zone".into(),
            DataType::Interval => "interval".into(),
            DataType::Uuid => "uuid".into(),
            DataType::Json => "json".into(),
            DataType::Jsonb => "jsonb".into(),
            DataType::Array(element) => format!("{}[]", element.sql_name()),
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// The default expression as SQL text, if any.
    pub default: Option<String>,
}

/// A table definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    pub id: TableId,
    pub namespace_id: NamespaceId,
    pub name: String,
    pub kind: TableKind,
    /// Shared tables only.
    pub access_level: Option<AccessLevel>,
    /// Stream tables only.
    pub ttl_seconds: Option<u64>,
    pub storage_id: StorageId,
    pub columns: Vec<ColumnDef>,
    /// Positions into `columns`, in key order. Empty: a hidden row key.
    pub primary_key: Vec<u16>,
    pub created_at: Timestamp,
}

/// Where the cold tier writes its Parquet files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageKind {
    /// A directory on the server's disk; relative paths are under the data directory.
    Local { path: String },
    /// An S3-compatible bucket.
    S3 { bucket: String, prefix: String, region: Option<String>, endpoint: Option<String> },
}

impl StorageKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StorageKind::Local { .. } => "local",
            StorageKind::S3 { .. } => "s3",
        }
    }

    /// Where the files go, as a URL-like string for display.
    pub fn location(&self) -> String {
        match self {
            StorageKind::Local { path } => path.clone(),
            StorageKind::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Storage {
    pub id: StorageId,
    pub name: String,
    pub kind: StorageKind,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobType {
    Flush,
    TtlEviction,
    DropCleanup,
    UserCleanup,
    Backup,
    Restore,
}

impl JobType {
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::Flush => "flush",
            JobType::TtlEviction => "ttl_eviction",
            JobType::DropCleanup => "drop_cleanup",
            JobType::UserCleanup => "user_cleanup",
            JobType::Backup => "backup",
            JobType::Restore => "restore",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobStatus {
    New,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::New,
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::New => "new",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// A background job and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub job_type: JobType,
    pub status: JobStatus,
    pub table_id: Option<TableId>,
    /// 0.0 to 1.0.
    pub progress: f64,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// A dropped table whose rows are still being removed from storage. Its
/// definition is gone, so no statement reaches the rows; the record makes
/// their removal finish after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedTable {
    pub id: TableId,
    pub dropped_at: Timestamp,
}

/// A live-query subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveQuery {
    pub id: LiveQueryId,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub query: String,
    pub created_at: Timestamp,
}

/// A connected client. Sessions live in memory only: they end with the
/// connection and do not survive a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub user_id: UserId,
    pub username: String,
    pub client_addr: String,
    pub application_name: Option<String>,
    pub connected_at: Timestamp,
}
