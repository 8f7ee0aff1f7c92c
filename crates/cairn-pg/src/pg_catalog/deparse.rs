//! Definitions printed as PostgreSQL prints them (`pg_get_expr`,
//! `pg_get_indexdef`, `pg_get_constraintdef`), so `\d` and the drivers'
//! metadata calls show what they would for the same table in PostgreSQL.

use cairn_types::{ColumnDef, TableDef};
use datafusion::sql::sqlparser::ast::{Expr, UnaryOperator, Value};

use super::types::{format_type, type_of};

/// A column default as PostgreSQL stores and prints it: a string literal
/// carries its column's type (`'lobby'::text`), a negative number too
/// (`'-1'::integer`); calls and other literals print as written.
pub fn default_expression(column: &ColumnDef) -> Option<String> {
    let written = column.default.as_deref()?;
    let (oid, _) = type_of(&column.data_type);
    let type_name = format_type(oid, -1).unwrap_or_else(|| "text".to_owned());
    let Some(expr) = cairn_tables::defaults::parse(written).ok() else {
        return Some(written.to_owned());
    };
    Some(match &expr {
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(text) => format!("{}::{type_name}", quote_literal(text)),
            Value::Null => format!("NULL::{type_name}"),
            _ => expr.to_string(),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr: number,
        } if matches!(number.as_ref(), Expr::Value(_)) => {
            format!("'-{number}'::{type_name}")
        }
        _ => expr.to_string(),
    })
}

/// `CREATE UNIQUE INDEX t_pkey ON ns.t USING btree (a, b)`, the table
/// qualified unless `qualify` is false.
pub fn primary_key_index(table: &TableDef, namespace: &str, qualify: bool) -> String {
    let name = quote_ident(&format!("{}_pkey", table.name));
    let relation = match qualify {
        true => format!("{}.{}", quote_ident(namespace), quote_ident(&table.name)),
        false => quote_ident(&table.name),
    };
    format!(
        "CREATE UNIQUE INDEX {name} ON {relation} USING btree ({})",
        key_columns(table)
    )
}

/// The `column`th key column's name (from 1).
pub fn primary_key_column(table: &TableDef, column: usize) -> Option<String> {
    let position = *table.primary_key.get(column.checked_sub(1)?)?;
    table
        .columns
        .get(usize::from(position))
        .map(|c| quote_ident(&c.name))
}

/// `PRIMARY KEY (a, b)`.
pub fn primary_key_constraint(table: &TableDef) -> String {
    format!("PRIMARY KEY ({})", key_columns(table))
}

fn key_columns(table: &TableDef) -> String {
    let names = table
        .primary_key
        .iter()
        .filter_map(|&i| table.columns.get(usize::from(i)));
    names
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `quote_ident`: bare when PostgreSQL would read it back unchanged.
pub fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    match plain {
        true => name.to_owned(),
        false => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// PostgreSQL's reserved keywords that are likely column names.
const RESERVED: &[&str] = &[
    "all",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "case",
    "check",
    "column",
    "constraint",
    "create",
    "default",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "false",
    "for",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "into",
    "limit",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "primary",
    "references",
    "select",
    "table",
    "then",
    "to",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "when",
    "where",
    "with",
];

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_types::DataType;

    fn column(data_type: DataType, default: &str) -> ColumnDef {
        ColumnDef {
            name: "c".into(),
            data_type,
            nullable: true,
            default: Some(default.into()),
        }
    }

    #[test]
    fn defaults_print_as_postgres_stores_them() {
        assert_eq!(
            default_expression(&column(DataType::Text, "'lobby'")).as_deref(),
            Some("'lobby'::text")
        );
        assert_eq!(
            default_expression(&column(DataType::Varchar { max_len: Some(5) }, "'it''s'"))
                .as_deref(),
            Some("'it''s'::character varying")
        );
        assert_eq!(
            default_expression(&column(DataType::Int, "-1")).as_deref(),
            Some("'-1'::integer")
        );
        assert_eq!(
            default_expression(&column(DataType::BigInt, "42")).as_deref(),
            Some("42")
        );
        assert_eq!(
            default_expression(&column(DataType::TimestampTz, "now()")).as_deref(),
            Some("now()")
        );
    }

    #[test]
    fn identifiers_are_quoted_when_needed() {
        assert_eq!(quote_ident("id"), "id");
        assert_eq!(quote_ident("B c"), "\"B c\"");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("1a"), "\"1a\"");
    }
}
