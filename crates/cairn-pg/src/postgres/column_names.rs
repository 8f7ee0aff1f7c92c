//! Result column names as PostgreSQL gives them.
//!
//! DataFusion names an unaliased expression after its whole text
//! (`count(*)`, `CAST(x AS INT)`); PostgreSQL after the function, column
//! or type it ends in (`count`, `x`), or `?column?`, and clients and ORMs
//! read rows by those names. Every unaliased select item gets PostgreSQL's
//! name as an alias (the rules of `FigureColname` in PostgreSQL's
//! `parse_target.c`).
//!
//! PostgreSQL also allows two columns of the same name (`SELECT NULL,
//! NULL`), which a DataFusion plan cannot hold: the second and later get
//! [`DUPLICATE_MARK`] and a number after the name, which
//! [`client_column_name`] takes off again before the name reaches a client.
//!
//! A function in FROM with an alias and no column list names its column
//! after the alias, as in PostgreSQL; and `pg_catalog.unnest(…)` there is
//! the `UNNEST` DataFusion knows.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, Expr, Ident, SelectItem, SetExpr, VisitMut, VisitorMut,
};

/// Separates a repeated column name from the number that makes it unique.
const DUPLICATE_MARK: char = '\u{1}';

/// The name a client is shown for a result column.
pub fn client_column_name(name: &str) -> &str {
    name.split(DUPLICATE_MARK).next().unwrap_or(name)
}

/// Aliases every unaliased select item of `statement` with PostgreSQL's name.
pub(super) fn name_columns(statement: &mut ast::Statement) {
    let _ = statement.visit(&mut Namer);
}

struct Namer;

impl VisitorMut for Namer {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut ast::Query) -> ControlFlow<()> {
        name_set_expr(query.body.as_mut());
        ControlFlow::Continue(())
    }

    /// A function in FROM with an alias and no column list names its one
    /// column after the alias (`generate_series(1, 3) s` has column `s`).
    fn pre_visit_table_factor(&mut self, factor: &mut ast::TableFactor) -> ControlFlow<()> {
        unnest_as_table_factor(factor);
        if let ast::TableFactor::Table {
            args: Some(_),
            alias: Some(alias),
            ..
        }
        | ast::TableFactor::UNNEST {
            alias: Some(alias), ..
        } = factor
        {
            if alias.columns.is_empty() {
                alias.columns.push(ast::TableAliasColumnDef::from_name(
                    alias.name.value.clone(),
                ));
            }
        }
        ControlFlow::Continue(())
    }
}

/// `pg_catalog.unnest(a)` in FROM is parsed as a call of a table function
/// named `unnest`; DataFusion plans only the `UNNEST(a)` table factor.
fn unnest_as_table_factor(factor: &mut ast::TableFactor) {
    let ast::TableFactor::Table {
        name,
        args: Some(args),
        alias,
        ..
    } = factor
    else {
        return;
    };
    let unnest = name
        .0
        .last()
        .and_then(|part| part.as_ident())
        .is_some_and(|f| f.value.eq_ignore_ascii_case("unnest"));
    let exprs: Option<Vec<Expr>> = args
        .args
        .iter()
        .map(|arg| match arg {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(expr)) => Some(expr.clone()),
            _ => None,
        })
        .collect();
    if let (true, Some(array_exprs)) = (unnest, exprs) {
        *factor = ast::TableFactor::UNNEST {
            alias: alias.take(),
            array_exprs,
            with_offset: false,
            with_offset_alias: None,
            with_ordinality: false,
        };
    }
}

fn name_set_expr(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => name_items(&mut select.projection),
        SetExpr::SetOperation { left, right, .. } => {
            name_set_expr(left);
            name_set_expr(right);
        }
        _ => {}
    }
}

fn name_items(items: &mut [SelectItem]) {
    if items.iter().any(|item| {
        matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    }) {
        // Names are unique per select; with `*` the other names are not known here.
        return;
    }
    let mut taken = HashSet::new();
    for item in items {
        let (name, alias_needed) = match item {
            SelectItem::ExprWithAlias { alias, .. } => (alias.value.clone(), false),
            SelectItem::UnnamedExpr(expr) => {
                let plain_column =
                    matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
                (column_name(expr), !plain_column)
            }
            _ => continue,
        };
        let mut unique = name.clone();
        let mut n = 1;
        while !taken.insert(unique.clone()) {
            n += 1;
            unique = format!("{name}{DUPLICATE_MARK}{n}");
        }
        if let SelectItem::UnnamedExpr(expr) = item {
            if alias_needed || unique != name {
                let expr = std::mem::replace(expr, Expr::value(ast::Value::Null));
                *item = SelectItem::ExprWithAlias {
                    expr,
                    alias: Ident::with_quote('"', unique),
                };
            }
        } else if let SelectItem::ExprWithAlias { alias, .. } = item {
            if unique != name {
                *alias = Ident::with_quote('"', unique);
            }
        }
    }
}

/// PostgreSQL's `FigureColname`.
pub fn column_name(expr: &Expr) -> String {
    figure(expr).unwrap_or_else(|| "?column?".to_owned())
}

fn figure(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(ident) => Some(ident_name(ident)),
        Expr::CompoundIdentifier(parts) => parts.last().map(ident_name),
        Expr::CompoundFieldAccess { root, access_chain } => match access_chain.last() {
            Some(ast::AccessExpr::Dot(field)) => figure(field),
            _ => figure(root),
        },
        Expr::Function(function) => function
            .name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .map(ident_name),
        // A cast takes its operand's name only if that is a strong one (a
        // column's, a function's): `x::int` is `x`, but `2.5::float8::int4`
        // and `(CASE … END)::text` are named by the type.
        Expr::Cast {
            expr, data_type, ..
        } => match weakly_named(expr) {
            true => Some(type_name(data_type)),
            false => figure(expr).or_else(|| Some(type_name(data_type))),
        },
        Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => figure(inner),
        Expr::Subquery(query) => match query.body.as_ref() {
            SetExpr::Select(select) => match select.projection.first()? {
                SelectItem::UnnamedExpr(expr) => figure(expr),
                SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
                _ => None,
            },
            _ => None,
        },
        Expr::Exists { negated: false, .. } => Some("exists".into()),
        Expr::Case { .. } => Some("case".into()),
        Expr::Array(_) => Some("array".into()),
        Expr::Tuple(_) => Some("row".into()),
        Expr::TypedString(typed) => Some(type_name(&typed.data_type)),
        Expr::Interval(_) => Some("interval".into()),
        Expr::Extract { .. } => Some("extract".into()),
        Expr::Substring { .. } => Some("substring".into()),
        Expr::Trim { .. } => Some("btrim".into()),
        Expr::Position { .. } => Some("position".into()),
        Expr::Overlay { .. } => Some("overlay".into()),
        Expr::Ceil { .. } => Some("ceil".into()),
        Expr::Floor { .. } => Some("floor".into()),
        Expr::AtTimeZone { .. } => Some("timezone".into()),
        _ => None,
    }
}

/// Whether PostgreSQL's name for `expr` is a weak one (strength 1 in
/// `FigureColnameInternal`), which a cast of it replaces by its type's.
fn weakly_named(expr: &Expr) -> bool {
    match expr {
        Expr::Nested(inner) => weakly_named(inner),
        Expr::Cast { .. } | Expr::TypedString(_) | Expr::Case { .. } | Expr::Interval(_) => true,
        _ => false,
    }
}

/// An identifier as PostgreSQL keeps it: folded to lower case unless quoted.
fn ident_name(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// The `typname` a cast to this type is named after (`'1'::integer` is
/// `int4`).
fn type_name(data_type: &ast::DataType) -> String {
    use ast::DataType as T;
    match data_type {
        T::Int(_) | T::Integer(_) | T::Int4(_) => "int4",
        T::BigInt(_) | T::Int8(_) => "int8",
        T::SmallInt(_) | T::Int2(_) => "int2",
        T::Boolean | T::Bool => "bool",
        T::Real | T::Float4 => "float4",
        T::Double(_) | T::DoublePrecision | T::Float8 => "float8",
        T::Varchar(_) | T::CharacterVarying(_) => "varchar",
        T::Char(_) | T::Character(_) => "bpchar",
        T::Numeric(_) | T::Decimal(_) => "numeric",
        T::Timestamp(_, ast::TimezoneInfo::Tz | ast::TimezoneInfo::WithTimeZone) => "timestamptz",
        T::Timestamp(..) => "timestamp",
        T::Custom(name, _) => {
            return name
                .0
                .last()
                .and_then(|part| part.as_ident())
                .map_or_else(|| "?column?".into(), ident_name)
        }
        other => return other.to_string().to_lowercase(),
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn named(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        name_columns(&mut statements[0]);
        statements[0].to_string()
    }

    #[test]
    fn items_take_postgres_names() {
        assert_eq!(
            named("SELECT count(*), t.a, x::int, '1'::integer, 1 + 2, (SELECT max(b) FROM u), CASE WHEN true THEN 1 END FROM t"),
            "SELECT count(*) AS \"count\", t.a, x::INT AS \"x\", '1'::INTEGER AS \"int4\", 1 + 2 AS \"?column?\", \
             (SELECT max(b) AS \"max\" FROM u) AS \"max\", CASE WHEN true THEN 1 END AS \"case\" FROM t"
        );
    }

    #[test]
    fn a_cast_of_a_weakly_named_value_is_named_by_its_type() {
        assert_eq!(
            named("SELECT 2.5::float8::int4, (CASE WHEN true THEN 1 END)::text, (x)::int8"),
            "SELECT 2.5::FLOAT8::INT4 AS \"int4\", (CASE WHEN true THEN 1 END)::TEXT AS \"text\", (x)::INT8 AS \"x\""
        );
    }

    #[test]
    fn repeated_names_are_told_apart_and_shown_alike() {
        let sql = named("SELECT NULL, NULL, a.oid, b.oid FROM a, b");
        assert_eq!(sql, "SELECT NULL AS \"?column?\", NULL AS \"?column?\u{1}2\", a.oid, b.oid AS \"oid\u{1}2\" FROM a, b");
        assert_eq!(client_column_name("?column?\u{1}2"), "?column?");
        assert_eq!(client_column_name("oid"), "oid");
    }

    #[test]
    fn a_function_in_from_names_its_column_after_its_alias() {
        assert_eq!(
            named("SELECT s FROM generate_series(1, 3) s"),
            "SELECT s FROM generate_series(1, 3) s (s)"
        );
    }

    #[test]
    fn wildcards_and_aliases_are_left_alone() {
        assert_eq!(
            named("SELECT *, count(*) FROM t"),
            "SELECT *, count(*) FROM t"
        );
        assert_eq!(
            named("SELECT count(*) AS n FROM t"),
            "SELECT count(*) AS n FROM t"
        );
    }
}
