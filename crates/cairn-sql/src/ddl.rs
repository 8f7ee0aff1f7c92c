//! CREATE TABLE: sqlparser's AST to a CairnDB table definition.

use cairn_types::{AccessLevel, CairnError, ColumnDef, DataType, Result, TableKind};
use datafusion::sql::sqlparser::ast::{
    self, CharacterLength, ColumnOption, CreateTableOptions, ExactNumberInfo, Expr, Ident,
    ObjectName, SqlOption, TableConstraint, TimezoneInfo,
};

use cairn_tables::values::{arrow_type, MAX_NUMERIC_PRECISION};

/// A parsed CREATE TABLE, before its namespace is resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub namespace: Option<String>,
    pub name: String,
    pub kind: TableKind,
    pub access_level: Option<AccessLevel>,
    pub ttl_seconds: Option<u64>,
    pub columns: Vec<ColumnDef>,
    pub primary_key: Vec<u16>,
    pub if_not_exists: bool,
}

fn unsupported(what: impl Into<String>) -> CairnError {
    CairnError::FeatureNotSupported(what.into())
}

/// PostgreSQL folds unquoted identifiers to lower case.
pub fn ident_name(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// `[namespace.]name`.
pub fn qualified_name(name: &ObjectName) -> Result<(Option<String>, String)> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| part.as_ident().map(ident_name))
        .collect::<Option<_>>()
        .ok_or_else(|| CairnError::Syntax(format!("invalid name {name}")))?;
    match parts.as_slice() {
        [name] => Ok((None, name.clone())),
        [namespace, name] => Ok((Some(namespace.clone()), name.clone())),
        _ => Err(CairnError::Syntax(format!("improper qualified name (too many dotted names): {name}"))),
    }
}

/// A `CREATE TABLE` (the kind word already taken out) as a table of `kind`.
pub fn parse_create_table(kind: TableKind, create: &ast::CreateTable) -> Result<TableSpec> {
    if create.query.is_some() || create.like.is_some() || create.clone.is_some() {
        return Err(unsupported("CREATE TABLE … AS / LIKE / CLONE is not supported yet"));
    }
    if create.temporary || create.external || create.or_replace {
        return Err(unsupported("TEMPORARY, EXTERNAL and OR REPLACE tables are not supported"));
    }
    let (namespace, name) = qualified_name(&create.name)?;
    let mut columns = Vec::with_capacity(create.columns.len());
    let mut primary_key: Vec<u16> = Vec::new();
    for (position, column) in create.columns.iter().enumerate() {
        let column_name = ident_name(&column.name);
        if columns.iter().any(|c: &ColumnDef| c.name == column_name) {
            return Err(CairnError::DuplicateObject(format!(
                "column \"{column_name}\" specified more than once"
            )));
        }
        let (column, is_key) = column_definition(column)?;
        if is_key {
            if !primary_key.is_empty() {
                return Err(CairnError::Plan(format!("multiple primary keys for table \"{name}\" are not allowed")));
            }
            primary_key.push(u16::try_from(position).map_err(|_| unsupported("too many columns"))?);
        }
        columns.push(column);
    }
    for constraint in &create.constraints {
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                if !primary_key.is_empty() {
                    return Err(CairnError::Plan(format!(
                        "multiple primary keys for table \"{name}\" are not allowed"
                    )));
                }
                for key in &pk.columns {
                    let Expr::Identifier(ident) = &key.column.expr else {
                        return Err(unsupported("primary keys on expressions are not supported"));
                    };
                    let wanted = ident_name(ident);
                    let position = columns.iter().position(|c| c.name == wanted).ok_or_else(|| {
                        CairnError::UndefinedColumn(format!(
                            "column \"{wanted}\" named in key does not exist"
                        ))
                    })?;
                    columns[position].nullable = false;
                    primary_key.push(u16::try_from(position).map_err(|_| unsupported("too many columns"))?);
                }
            }
            other => return Err(unsupported(format!("constraint {other} is not supported yet"))),
        }
    }
    for &key in &primary_key {
        let column = &columns[usize::from(key)];
        if matches!(column.data_type, DataType::Interval | DataType::Array(_) | DataType::Json | DataType::Jsonb) {
            return Err(unsupported(format!(
                "column \"{}\" of type {} cannot be part of a primary key",
                column.name,
                column.data_type.sql_name()
            )));
        }
    }
    let (access_level, ttl_seconds) = options(&create.table_options)?;
    match kind {
        TableKind::User if access_level.is_some() => {
            return Err(CairnError::InvalidParameterValue(
                "ACCESS_LEVEL applies to shared tables; a user table is always private to each user".into(),
            ))
        }
        TableKind::Stream if ttl_seconds.is_none() => {
            return Err(CairnError::InvalidParameterValue(
                "a stream table needs WITH (TTL_SECONDS = n)".into(),
            ))
        }
        TableKind::Stream => {}
        _ if ttl_seconds.is_some() => {
            return Err(CairnError::InvalidParameterValue("TTL_SECONDS applies to stream tables only".into()))
        }
        _ => {}
    }
    if columns.is_empty() {
        return Err(unsupported("tables without columns are not supported"));
    }
    Ok(TableSpec {
        namespace,
        name,
        kind,
        access_level,
        ttl_seconds,
        columns,
        primary_key,
        if_not_exists: create.if_not_exists,
    })
}

/// One column of CREATE TABLE or ALTER TABLE … ADD COLUMN, and whether it
/// was declared PRIMARY KEY (which makes it NOT NULL).
pub fn column_definition(column: &ast::ColumnDef) -> Result<(ColumnDef, bool)> {
    let (data_type, mut nullable, mut default) = match serial(&column.data_type) {
        // SERIAL and friends: a generated id. CairnDB has no sequences; its
        // ids are snowflake ids, which need 64 bits, so the column is BIGINT.
        true => (DataType::BigInt, false, Some("snowflake_id()".to_owned())),
        false => (data_type(&column.data_type)?, true, None),
    };
    arrow_type(&data_type)?;
    let mut is_key = false;
    for option in &column.options {
        match &option.option {
            ColumnOption::Null => nullable = true,
            ColumnOption::NotNull => nullable = false,
            ColumnOption::Default(expr) => default = Some(validate_default(expr)?),
            ColumnOption::PrimaryKey(_) => {
                is_key = true;
                nullable = false;
            }
            other => return Err(unsupported(format!("column option {other} is not supported yet"))),
        }
    }
    Ok((ColumnDef { name: ident_name(&column.name), data_type, nullable, default }, is_key))
}

fn serial(sql: &ast::DataType) -> bool {
    matches!(sql, ast::DataType::Custom(name, modifiers)
        if modifiers.is_empty()
            && ["serial", "bigserial", "smallserial", "serial4", "serial8", "serial2"]
                .contains(&name.to_string().to_ascii_lowercase().as_str()))
}

fn data_type(sql: &ast::DataType) -> Result<DataType> {
    use ast::DataType as T;
    let length = |length: &Option<CharacterLength>| -> Result<Option<u32>> {
        match length {
            None | Some(CharacterLength::Max) => Ok(None),
            Some(CharacterLength::IntegerLength { length, .. }) => u32::try_from(*length)
                .map(Some)
                .map_err(|_| CairnError::InvalidParameterValue(format!("length {length} is too large"))),
        }
    };
    Ok(match sql {
        T::Bool | T::Boolean => DataType::Boolean,
        T::SmallInt(_) | T::Int2(_) => DataType::SmallInt,
        T::Int(_) | T::Integer(_) | T::Int4(_) => DataType::Int,
        T::BigInt(_) | T::Int8(_) => DataType::BigInt,
        T::Real | T::Float4 => DataType::Real,
        T::Double(ExactNumberInfo::None) | T::DoublePrecision | T::Float8 => DataType::Double,
        T::Numeric(info) | T::Decimal(info) => {
            let (precision, scale) = match info {
                // PostgreSQL's unconstrained numeric has no fixed scale;
                // CairnDB stores it as numeric(38, 10).
                ExactNumberInfo::None => (u64::from(MAX_NUMERIC_PRECISION), 10),
                ExactNumberInfo::Precision(p) => (*p, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
            };
            if precision == 0 || precision > u64::from(MAX_NUMERIC_PRECISION) || scale < 0 || scale as u64 > precision {
                return Err(CairnError::InvalidParameterValue(format!(
                    "NUMERIC precision must be 1 to {MAX_NUMERIC_PRECISION} and scale 0 to the precision, not ({precision}, {scale})"
                )));
            }
            DataType::Numeric { precision: precision as u8, scale: scale as i8 }
        }
        T::Text => DataType::Text,
        T::Varchar(l) | T::CharacterVarying(l) => DataType::Varchar { max_len: length(l)? },
        T::Bytea => DataType::Bytea,
        T::Date => DataType::Date,
        T::Time(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => DataType::Time,
        T::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => DataType::Timestamp,
        T::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => DataType::TimestampTz,
        T::Uuid => DataType::Uuid,
        T::JSON => DataType::Json,
        T::JSONB => DataType::Jsonb,
        T::Interval { fields: None, precision: None } => DataType::Interval,
        T::Array(ast::ArrayElemTypeDef::SquareBracket(element, _) | ast::ArrayElemTypeDef::AngleBracket(element)) => {
            match data_type(element)? {
                DataType::Array(_) => return Err(unsupported("arrays of arrays are not supported")),
                element => DataType::Array(Box::new(element)),
            }
        }
        other => return Err(unsupported(format!("type {other} is not supported yet"))),
    })
}

/// The defaults CairnDB can evaluate: literals, `now()`,
/// `current_timestamp`, `current_user` and `snowflake_id()`.
pub fn validate_default(expr: &Expr) -> Result<String> {
    cairn_tables::defaults::check(expr)?;
    Ok(expr.to_string())
}

/// `WITH (ACCESS_LEVEL = '…', TTL_SECONDS = n)`.
fn options(options: &CreateTableOptions) -> Result<(Option<AccessLevel>, Option<u64>)> {
    let list = match options {
        CreateTableOptions::None => return Ok((None, None)),
        CreateTableOptions::With(list) => list,
        other => return Err(unsupported(format!("table options {other} are not supported"))),
    };
    let (mut access_level, mut ttl) = (None, None);
    for option in list {
        let SqlOption::KeyValue { key, value } = option else {
            return Err(unsupported(format!("table option {option} is not supported")));
        };
        let text = match value {
            Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) => s.clone(),
                ast::Value::Number(n, _) => n.clone(),
                other => other.to_string(),
            },
            Expr::Identifier(ident) => ident.value.clone(),
            other => other.to_string(),
        };
        match key.value.to_ascii_uppercase().as_str() {
            "ACCESS_LEVEL" => {
                access_level = Some(match text.to_ascii_uppercase().as_str() {
                    "PUBLIC" => AccessLevel::Public,
                    "PRIVATE" => AccessLevel::Private,
                    "RESTRICTED" => AccessLevel::Restricted,
                    "DBA" => AccessLevel::Dba,
                    _ => {
                        return Err(CairnError::InvalidParameterValue(format!(
                            "invalid ACCESS_LEVEL '{text}': expected PUBLIC, PRIVATE, RESTRICTED or DBA"
                        )))
                    }
                })
            }
            "TTL_SECONDS" => {
                ttl = Some(text.parse::<u64>().ok().filter(|t| *t > 0).ok_or_else(|| {
                    CairnError::InvalidParameterValue(format!("invalid TTL_SECONDS '{text}': expected a positive integer"))
                })?)
            }
            other => return Err(CairnError::InvalidParameterValue(format!("unknown table option {other}"))),
        }
    }
    Ok((access_level, ttl))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CREATE TABLE read as the session reads it, made a table of `kind`.
    fn parse_create_table(kind: TableKind, sql: &str) -> Result<TableSpec> {
        match crate::statement::parse_statements(sql)?.pop() {
            Some(crate::statement::Statement::CreateTable { definition, .. }) => super::parse_create_table(kind, &definition),
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn columns_keys_and_options() {
        let spec = parse_create_table(
            TableKind::Shared,
            "CREATE TABLE app.products (sku TEXT PRIMARY KEY, name VARCHAR(20) NOT NULL, price NUMERIC(12,2) DEFAULT 0, at TIMESTAMPTZ DEFAULT now()) WITH (ACCESS_LEVEL = 'PUBLIC')",
        )
        .expect("parses");
        assert_eq!(spec.namespace.as_deref(), Some("app"));
        assert_eq!(spec.name, "products");
        assert_eq!(spec.primary_key, [0]);
        assert_eq!(spec.access_level, Some(AccessLevel::Public));
        assert_eq!(spec.columns[1].data_type, DataType::Varchar { max_len: Some(20) });
        assert!(!spec.columns[0].nullable && !spec.columns[1].nullable && spec.columns[2].nullable);
        assert_eq!(spec.columns[2].data_type, DataType::Numeric { precision: 12, scale: 2 });
        assert_eq!(spec.columns[3].default.as_deref(), Some("now()"));

        let spec = parse_create_table(TableKind::User, "CREATE TABLE m (a INT, b BIGINT, PRIMARY KEY (b, a))")
            .expect("composite");
        assert_eq!(spec.primary_key, [1, 0]);
        assert!(spec.columns.iter().all(|c| !c.nullable));
        let spec = parse_create_table(TableKind::Stream, "CREATE TABLE e (id BIGINT PRIMARY KEY, kind TEXT) WITH (TTL_SECONDS = 3600)")
            .expect("stream");
        assert_eq!(spec.ttl_seconds, Some(3600));
        let spec = parse_create_table(TableKind::Shared, "CREATE TABLE IF NOT EXISTS \"Plain\" (v TEXT)").expect("no key");
        assert!(spec.primary_key.is_empty() && spec.if_not_exists);
        assert_eq!(spec.name, "Plain");
        let spec = parse_create_table(TableKind::Shared, "CREATE TABLE t (id SERIAL PRIMARY KEY, u UUID, tags TEXT[], d INTERVAL)")
            .expect("types");
        assert_eq!(spec.columns[0].data_type, DataType::BigInt);
        assert_eq!(spec.columns[0].default.as_deref(), Some("snowflake_id()"));
        assert_eq!(spec.columns[2].data_type, DataType::Array(Box::new(DataType::Text)));
        assert_eq!(spec.columns[3].data_type, DataType::Interval);
    }

    #[test]
    fn refusals() {
        for (sql, kind, code) in [
            ("CREATE TABLE t (a INT PRIMARY KEY, b INT PRIMARY KEY)", TableKind::Shared, "42000"),
            ("CREATE TABLE t (a INT, a INT)", TableKind::Shared, "42710"),
            ("CREATE TABLE t (a INT, PRIMARY KEY (nope))", TableKind::Shared, "42703"),
            ("CREATE TABLE t (a INT) WITH (ACCESS_LEVEL = 'everyone')", TableKind::Shared, "22023"),
            ("CREATE TABLE t (a INT) WITH (ACCESS_LEVEL = 'PUBLIC')", TableKind::User, "22023"),
            ("CREATE TABLE t (a INT) WITH (TTL_SECONDS = 5)", TableKind::Shared, "22023"),
            ("CREATE TABLE t (a INT)", TableKind::Stream, "22023"),
            ("CREATE TABLE t (a INT) WITH (TTL_SECONDS = 0)", TableKind::Stream, "22023"),
            ("CREATE TABLE t (a INT[][])", TableKind::Shared, "0A000"),
            ("CREATE TABLE t (a JSONB PRIMARY KEY)", TableKind::Shared, "0A000"),
            ("CREATE TABLE t (a INT DEFAULT random())", TableKind::Shared, "0A000"),
            ("CREATE TABLE t (a INT REFERENCES u(a))", TableKind::Shared, "0A000"),
            ("CREATE TABLE t AS SELECT 1", TableKind::Shared, "0A000"),
            ("CREATE TABLE t (a NUMERIC(50, 2))", TableKind::Shared, "22023"),
        ] {
            let error = parse_create_table(kind, sql).expect_err(sql);
            assert_eq!(error.code().as_str(), code, "{sql}: {error}");
        }
    }
}
