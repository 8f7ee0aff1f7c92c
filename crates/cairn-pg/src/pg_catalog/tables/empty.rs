//! Catalog tables of features CairnDB does not have: they exist, with
//! PostgreSQL's columns, so the queries clients send plan and find nothing.

use super::*;

macro_rules! empty_tables {
    ($($(#[$doc:meta])* $table:ident = $name:literal [$($column:literal: $data_type:expr),* $(,)?];)*) => {$(
        $(#[$doc])*
        pub struct $table;

        impl PgTable for $table {
            const NAME: &'static str = $name;

            fn schema() -> SchemaRef {
                schema(&[$(($column, $data_type)),*])
            }

            fn batch(_catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
                Ok(RecordBatch::new_empty(Self::schema()))
            }
        }
    )*};
}

empty_tables! {
    /// `pg_policy`: row-level security policies: CairnDB isolates users by table kind instead.
    PgPolicy = "pg_policy" [
        "oid": DataType::UInt32,
        "polname": DataType::Utf8,
        "polrelid": DataType::UInt32,
        "polcmd": DataType::Utf8,
        "polpermissive": DataType::Boolean,
        "polroles": oid_array_type(),
        "polqual": DataType::Utf8,
        "polwithcheck": DataType::Utf8,
    ];
    /// `pg_statistic_ext`: extended statistics.
    PgStatisticExt = "pg_statistic_ext" [
        "oid": DataType::UInt32,
        "stxrelid": DataType::UInt32,
        "stxname": DataType::Utf8,
        "stxnamespace": DataType::UInt32,
        "stxowner": DataType::UInt32,
        "stxstattarget": DataType::Int32,
        "stxkeys": int2_array_type(),
        "stxkind": acl_type(),
        "stxexprs": DataType::Utf8,
    ];
    /// `pg_publication`: logical replication publications.
    PgPublication = "pg_publication" [
        "oid": DataType::UInt32,
        "pubname": DataType::Utf8,
        "pubowner": DataType::UInt32,
        "puballtables": DataType::Boolean,
        "pubinsert": DataType::Boolean,
        "pubupdate": DataType::Boolean,
        "pubdelete": DataType::Boolean,
        "pubtruncate": DataType::Boolean,
        "pubviaroot": DataType::Boolean,
    ];
    /// `pg_publication_namespace`: publications of whole schemas.
    PgPublicationNamespace = "pg_publication_namespace" [
        "oid": DataType::UInt32,
        "pnpubid": DataType::UInt32,
        "pnnspid": DataType::UInt32,
    ];
    /// `pg_publication_rel`: publications of tables.
    PgPublicationRel = "pg_publication_rel" [
        "oid": DataType::UInt32,
        "prpubid": DataType::UInt32,
        "prrelid": DataType::UInt32,
        "prqual": DataType::Utf8,
        "prattrs": int2_array_type(),
    ];
    /// `pg_inherits`: table inheritance and declarative partitions.
    PgInherits = "pg_inherits" [
        "inhrelid": DataType::UInt32,
        "inhparent": DataType::UInt32,
        "inhseqno": DataType::Int32,
        "inhdetachpending": DataType::Boolean,
    ];
    /// `pg_description`: comments (`COMMENT ON` is not supported).
    PgDescription = "pg_description" [
        "objoid": DataType::UInt32,
        "classoid": DataType::UInt32,
        "objsubid": DataType::Int32,
        "description": DataType::Utf8,
    ];
    /// `pg_shdescription`: comments on shared objects.
    PgShdescription = "pg_shdescription" [
        "objoid": DataType::UInt32,
        "classoid": DataType::UInt32,
        "description": DataType::Utf8,
    ];
    /// `pg_enum`: enum labels (`CREATE TYPE … AS ENUM` is not supported).
    PgEnum = "pg_enum" [
        "oid": DataType::UInt32,
        "enumtypid": DataType::UInt32,
        "enumsortorder": DataType::Float32,
        "enumlabel": DataType::Utf8,
    ];
    /// `pg_range`: range types.
    PgRange = "pg_range" [
        "rngtypid": DataType::UInt32,
        "rngsubtype": DataType::UInt32,
        "rngmultitypid": DataType::UInt32,
        "rngcollation": DataType::UInt32,
        "rngsubopc": DataType::UInt32,
        "rngcanonical": DataType::Utf8,
        "rngsubdiff": DataType::Utf8,
    ];
    /// `pg_trigger`: triggers.
    PgTrigger = "pg_trigger" [
        "oid": DataType::UInt32,
        "tgrelid": DataType::UInt32,
        "tgparentid": DataType::UInt32,
        "tgname": DataType::Utf8,
        "tgfoid": DataType::UInt32,
        "tgtype": DataType::Int16,
        "tgenabled": DataType::Utf8,
        "tgisinternal": DataType::Boolean,
        "tgconstrrelid": DataType::UInt32,
        "tgconstrindid": DataType::UInt32,
        "tgconstraint": DataType::UInt32,
        "tgdeferrable": DataType::Boolean,
        "tginitdeferred": DataType::Boolean,
        "tgnargs": DataType::Int16,
        "tgattr": int2_array_type(),
        "tgargs": DataType::Binary,
        "tgqual": DataType::Utf8,
        "tgoldtable": DataType::Utf8,
        "tgnewtable": DataType::Utf8,
    ];
    /// `pg_rewrite`: rules and views.
    PgRewrite = "pg_rewrite" [
        "oid": DataType::UInt32,
        "rulename": DataType::Utf8,
        "ev_class": DataType::UInt32,
        "ev_type": DataType::Utf8,
        "ev_enabled": DataType::Utf8,
        "is_instead": DataType::Boolean,
        "ev_qual": DataType::Utf8,
        "ev_action": DataType::Utf8,
    ];
    /// `pg_proc`: functions as catalog objects: CairnDB's functions are built in and have no OIDs.
    PgProc = "pg_proc" [
        "oid": DataType::UInt32,
        "proname": DataType::Utf8,
        "pronamespace": DataType::UInt32,
        "proowner": DataType::UInt32,
        "prolang": DataType::UInt32,
        "procost": DataType::Float32,
        "prorows": DataType::Float32,
        "provariadic": DataType::UInt32,
        "prosupport": DataType::Utf8,
        "prokind": DataType::Utf8,
        "prosecdef": DataType::Boolean,
        "proleakproof": DataType::Boolean,
        "proisstrict": DataType::Boolean,
        "proretset": DataType::Boolean,
        "provolatile": DataType::Utf8,
        "proparallel": DataType::Utf8,
        "pronargs": DataType::Int16,
        "pronargdefaults": DataType::Int16,
        "prorettype": DataType::UInt32,
        "proargtypes": oid_array_type(),
        "proallargtypes": oid_array_type(),
        "proargmodes": acl_type(),
        "proargnames": acl_type(),
        "proargdefaults": DataType::Utf8,
        "protrftypes": oid_array_type(),
        "prosrc": DataType::Utf8,
        "probin": DataType::Utf8,
        "prosqlbody": DataType::Utf8,
        "proconfig": acl_type(),
        "proacl": acl_type(),
    ];
    /// `pg_sequence`: sequences (SERIAL columns take snowflake ids).
    PgSequence = "pg_sequence" [
        "seqrelid": DataType::UInt32,
        "seqtypid": DataType::UInt32,
        "seqstart": DataType::Int64,
        "seqincrement": DataType::Int64,
        "seqmax": DataType::Int64,
        "seqmin": DataType::Int64,
        "seqcache": DataType::Int64,
        "seqcycle": DataType::Boolean,
    ];
    /// `pg_depend`: dependencies between objects.
    PgDepend = "pg_depend" [
        "classid": DataType::UInt32,
        "objid": DataType::UInt32,
        "objsubid": DataType::Int32,
        "refclassid": DataType::UInt32,
        "refobjid": DataType::UInt32,
        "refobjsubid": DataType::Int32,
        "deptype": DataType::Utf8,
    ];
    /// `pg_foreign_table`: foreign tables.
    PgForeignTable = "pg_foreign_table" [
        "ftrelid": DataType::UInt32,
        "ftserver": DataType::UInt32,
        "ftoptions": acl_type(),
    ];
    /// `pg_partitioned_table`: declarative partitioning.
    PgPartitionedTable = "pg_partitioned_table" [
        "partrelid": DataType::UInt32,
        "partstrat": DataType::Utf8,
        "partnatts": DataType::Int16,
        "partdefid": DataType::UInt32,
        "partattrs": int2_array_type(),
        "partclass": oid_array_type(),
        "partcollation": oid_array_type(),
        "partexprs": DataType::Utf8,
    ];
    /// `pg_extension`: extensions.
    PgExtension = "pg_extension" [
        "oid": DataType::UInt32,
        "extname": DataType::Utf8,
        "extowner": DataType::UInt32,
        "extnamespace": DataType::UInt32,
        "extrelocatable": DataType::Boolean,
        "extversion": DataType::Utf8,
        "extconfig": oid_array_type(),
        "extcondition": acl_type(),
    ];
    /// `pg_event_trigger`: event triggers.
    PgEventTrigger = "pg_event_trigger" [
        "oid": DataType::UInt32,
        "evtname": DataType::Utf8,
        "evtevent": DataType::Utf8,
        "evtowner": DataType::UInt32,
        "evtfoid": DataType::UInt32,
        "evtenabled": DataType::Utf8,
        "evttags": acl_type(),
    ];
    /// `pg_opclass`: operator classes (CairnDB's one index kind has none to choose).
    PgOpclass = "pg_opclass" [
        "oid": DataType::UInt32,
        "opcmethod": DataType::UInt32,
        "opcname": DataType::Utf8,
        "opcnamespace": DataType::UInt32,
        "opcowner": DataType::UInt32,
        "opcfamily": DataType::UInt32,
        "opcintype": DataType::UInt32,
        "opcdefault": DataType::Boolean,
        "opckeytype": DataType::UInt32,
    ];
}
