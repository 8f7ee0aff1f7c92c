//! The rewrites of a statement's syntax tree before DataFusion plans it,
//! each for what PostgreSQL clients send and DataFusion does not plan as
//! PostgreSQL would:
//!
//! - `expr COLLATE c` becomes `expr`: CairnDB compares text bytewise,
//!   which is what `COLLATE "C"` and psql's `COLLATE pg_catalog.default`
//!   ask for;
//! - `pg_catalog.f(…)` becomes `f(…)`: `pg_catalog` is on every search
//!   path in PostgreSQL, and CairnDB's functions have no schema;
//! - for the same reason a bare `pg_type` (any pg_catalog table) is
//!   `pg_catalog.pg_type`, which PostgreSQL searches first;
//! - unaliased select items are named as PostgreSQL names them
//!   (`count`, not `count(*)`; see [`column_names`]);
//! - `'name'::regclass` looks the table's OID up by name, and
//!   `'name'::regproc` is the function's name;
//! - `information_schema._pg_expandarray(a)` unnests `(x, n)` pairs;
//! - `(expr).field` reads a field of a composite value;
//! - `generate_series(…)` in a select list returns rows, not a list;
//! - `generate_subscripts(a, d)` unnests the positions 1‥n;
//! - `array_upper(a, d)` is `array_length(a, d)`: arrays start at 1;
//! - `mod(a, b)` is `(a % b)`; `every` is `bool_and`;
//! - the subquery column of `x op ANY/ALL (…)` is named apart from the
//!   outer query's columns;
//! - `array_length` and `cardinality` are integers;
//! - `localtimestamp`, `localtime` are `now()` without its zone;
//! - `FETCH FIRST n ROWS ONLY` is `LIMIT n`;
//! - `EXISTS (…)` as a value is a count of the subquery's rows
//!   ([`exists`]);
//! - `ARRAY(SELECT …)` and plain correlated scalar subqueries are restated
//!   as aggregates, and correlated ones in forms DataFusion decorrelates
//!   (see [`array_of_subquery`] and [`subqueries`]).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast;

use super::{build, column_names, exists, subqueries};

/// Rewrites a statement: its relations, its select items' names, every
/// expression in it.
pub fn rewrite_statement(statement: &mut ast::Statement) {
    fetch_as_limit(statement);
    column_names::name_columns(statement);
    exists::exists_as_counts(statement);
    let _ = ast::visit_relations_mut(statement, |name| {
        catalog_relation(name);
        ControlFlow::<()>::Continue(())
    });
    let _ = ast::visit_expressions_mut(statement, |expr| {
        rewrite_expression(expr);
        ControlFlow::<()>::Continue(())
    });
}

/// A bare pg_catalog table is `pg_catalog.t`; `pg_catalog.f` of a
/// function in FROM is `f`.
fn catalog_relation(name: &mut ast::ObjectName) {
    let catalog_table = matches!(name.0.as_slice(), [part]
        if part.as_ident().is_some_and(|ident| crate::pg_catalog::is_catalog_table(&ident.value)));
    if catalog_table {
        name.0.insert(
            0,
            ast::ObjectNamePart::Identifier(ast::Ident::new(crate::pg_catalog::PG_CATALOG)),
        );
    }
    // `pg_catalog.generate_series(…)` in FROM: a function, not a table.
    let catalog_function = matches!(name.0.as_slice(), [schema, function]
        if schema.as_ident().is_some_and(|s| s.value.eq_ignore_ascii_case(crate::pg_catalog::PG_CATALOG))
            && function.as_ident().is_some_and(|f| !crate::pg_catalog::is_catalog_table(&f.value)));
    if catalog_function {
        name.0.remove(0);
    }
}

/// `FETCH FIRST n ROWS ONLY` (the standard's LIMIT) as `LIMIT n`, which
/// DataFusion plans. `WITH TIES` and `PERCENT` are left to be refused.
fn fetch_as_limit(statement: &mut ast::Statement) {
    struct Fetches;
    impl ast::VisitorMut for Fetches {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut ast::Query) -> ControlFlow<()> {
            let plain = query.fetch.as_ref().is_some_and(|fetch| !fetch.with_ties && !fetch.percent);
            let limit = match &mut query.limit_clause {
                None => Some(None),
                Some(ast::LimitClause::LimitOffset { limit: None, offset, .. }) => Some(offset.take()),
                Some(_) => None,
            };
            if let (true, Some(offset)) = (plain, limit) {
                // FETCH FIRST ROWS ONLY, without a count, is one row.
                let count = query.fetch.take().and_then(|fetch| fetch.quantity).unwrap_or_else(|| build::integer(1));
                query.limit_clause = Some(ast::LimitClause::LimitOffset { limit: Some(count), offset, limit_by: Vec::new() });
            }
            ControlFlow::Continue(())
        }
    }
    let _ = ast::VisitMut::visit(statement, &mut Fetches);
}

/// Rewrites one expression (its subexpressions are visited first, by
/// the caller's visitor).
pub fn rewrite_expression(expr: &mut ast::Expr) {
    if let ast::Expr::Collate { expr: inner, .. } = expr {
        *expr = std::mem::replace(inner.as_mut(), ast::Expr::value(ast::Value::Null));
    }
    // `localtimestamp` and `localtime`, keywords to PostgreSQL, are words
    // to the parser: the session's time without its zone.
    let keyword = match expr {
        ast::Expr::Identifier(ident) if ident.quote_style.is_none() => Some(ident.value.clone()),
        ast::Expr::Function(function) if matches!(function.args, ast::FunctionArguments::None) => {
            function.name.0.last().and_then(|part| part.as_ident()).map(|ident| ident.value.clone())
        }
        _ => None,
    };
    let local = match keyword.map(|k| k.to_ascii_lowercase()).as_deref() {
        Some("localtimestamp") => Some(ast::DataType::Timestamp(None, ast::TimezoneInfo::None)),
        Some("localtime") => Some(ast::DataType::Time(None, ast::TimezoneInfo::None)),
        _ => None,
    };
    if let Some(data_type) = local {
        *expr = build::cast(build::call("now", []), data_type);
    }
    if let ast::Expr::Like {
        pattern,
        escape_char,
        ..
    }
    | ast::Expr::ILike {
        pattern,
        escape_char,
        ..
    } = expr
    {
        backslash_escape(pattern, escape_char);
    }
    if let Some(lookup) = regclass_of_name(expr) {
        *expr = lookup;
    }
    if let Some(name) = regproc_name(expr) {
        *expr = name;
    }
    if let Some(aggregated) = array_of_subquery(expr) {
        *expr = aggregated;
    }
    subqueries::restate(expr);
    subqueries::single_row(expr);
    subqueries::as_set(expr);
    if let ast::Expr::Function(function) = expr {
        let parts = &mut function.name.0;
        let qualified = parts.len() == 2
            && parts[0]
                .as_ident()
                .is_some_and(|schema| schema.value.eq_ignore_ascii_case("pg_catalog"));
        if qualified {
            parts.remove(0);
        }
    }
    if let Some(rows) = series_as_rows(expr) {
        *expr = rows;
    }
    if let Some(upper) = array_upper(expr) {
        *expr = upper;
    }
    if let Some(remainder) = modulo(expr) {
        *expr = remainder;
    }
    rename_synonym(expr);
    name_compared_column(expr);
    if let Some(integer) = integer_result(expr) {
        *expr = integer;
    }
    if let Some(subscripts) = generate_subscripts(expr) {
        *expr = subscripts;
    }
    if let Some(expanded) = expand_array(expr) {
        *expr = expanded;
    }
    if let Some(field) = field_of_composite(expr) {
        *expr = field;
    }
}

/// `'name'::regclass` as a lookup of the table's OID by name. (Other
/// casts to regclass are of OIDs, which it is as a number.)
fn regclass_of_name(expr: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::Cast { expr: inner, data_type, .. } = expr else { return None };
    let regclass = match data_type {
        ast::DataType::Regclass => true,
        ast::DataType::Custom(name, _) => {
            name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| i.value.eq_ignore_ascii_case("regclass"))
        }
        _ => false,
    };
    let ast::Expr::Value(value) = inner.as_ref() else { return None };
    let argument = match &value.value {
        ast::Value::SingleQuotedString(name) => build::string(name),
        // A parameter is bound as a name (SQLAlchemy sends `$2::regclass`).
        ast::Value::Placeholder(_) => build::cast(inner.as_ref().clone(), ast::DataType::Text),
        _ => return None,
    };
    if !regclass {
        return None;
    }
    Some(build::call(crate::pg_catalog::REGCLASS_FUNCTION, [argument]))
}

/// `generate_series(…)` as a value is set-returning in PostgreSQL, a row
/// per element; DataFusion's scalar one returns a list: `unnest` it.
fn series_as_rows(expr: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::Function(function) = expr else { return None };
    let [name] = function.name.0.as_slice() else { return None };
    if !name.as_ident().is_some_and(|i| i.value.eq_ignore_ascii_case("generate_series")) {
        return None;
    }
    Some(build::call("unnest", [expr.clone()]))
}

/// `array_upper(a, d)` as `CAST(array_length(a, d) AS BIGINT)`: CairnDB's
/// arrays start at 1, so the upper bound is the length (a bigint, which
/// DataFusion's `generate_series(1, array_upper(…))` needs).
fn array_upper(expr: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::Function(function) = expr else { return None };
    let [name] = function.name.0.as_slice() else { return None };
    if !name.as_ident().is_some_and(|i| i.value.eq_ignore_ascii_case("array_upper")) {
        return None;
    }
    let ast::FunctionArguments::List(list) = &function.args else { return None };
    let [array, dimension] = list.args.as_slice() else { return None };
    array_length(array, dimension)
}

/// The column of the subquery of `x op ANY (…)` / `x op ALL (…)` given a
/// name of its own. DataFusion's rewrite of these compares the outer
/// value with the subquery's column by name, and when both are the same
/// table's column (`v > ANY (SELECT v FROM t …)` in a query over `t`) it
/// compared the inner column with itself: wrong rows, silently.
fn name_compared_column(expr: &mut ast::Expr) {
    let (ast::Expr::AnyOp { right, .. } | ast::Expr::AllOp { right, .. }) = expr else { return };
    let ast::Expr::Subquery(query) = right.as_mut() else { return };
    let ast::SetExpr::Select(select) = query.body.as_mut() else { return };
    let [item] = select.projection.as_mut_slice() else { return };
    let column = match std::mem::replace(item, ast::SelectItem::Wildcard(ast::WildcardAdditionalOptions::default())) {
        ast::SelectItem::UnnamedExpr(column) | ast::SelectItem::ExprWithAlias { expr: column, .. } => column,
        other => {
            *item = other;
            return;
        }
    };
    *item = ast::SelectItem::ExprWithAlias { expr: column, alias: ast::Ident::new("__cairn_compared") };
}

/// PostgreSQL's names of functions DataFusion has under another:
/// `every` is `bool_and`. (The column keeps PostgreSQL's name, given
/// before this runs.)
fn rename_synonym(expr: &mut ast::Expr) {
    const SYNONYMS: &[(&str, &str)] = &[("every", "bool_and")];
    let ast::Expr::Function(function) = expr else { return };
    let [ast::ObjectNamePart::Identifier(ident)] = function.name.0.as_mut_slice() else { return };
    if let Some((_, datafusion_name)) = SYNONYMS.iter().find(|(pg, _)| ident.value.eq_ignore_ascii_case(pg)) {
        *ident = ast::Ident::new(*datafusion_name);
    }
}

/// `array_length(…)` and `cardinality(…)` as integers, their type in
/// PostgreSQL (DataFusion's are unsigned bigints, which node-postgres,
/// for one, hands over as strings).
fn integer_result(expr: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::Function(function) = expr else { return None };
    let [name] = function.name.0.as_slice() else { return None };
    let name = name.as_ident()?;
    let integer = ["array_length", "cardinality"].iter().any(|f| name.value.eq_ignore_ascii_case(f));
    integer.then(|| build::cast(expr.clone(), ast::DataType::Integer(None)))
}

/// `mod(a, b)` is `(a % b)`, as in PostgreSQL (DataFusion has only the
/// operator); its column is still named `mod`, named before this runs.
fn modulo(expr: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::Function(function) = expr else { return None };
    let [name] = function.name.0.as_slice() else { return None };
    if !name.as_ident().is_some_and(|i| i.value.eq_ignore_ascii_case("mod")) {
        return None;
    }
    let ast::FunctionArguments::List(list) = &function.args else { return None };
    let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a)), ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(b))] =
        list.args.as_slice()
    else {
        return None;
    };
    Some(ast::Expr::Nested(Box::new(ast::Expr::BinaryOp {
        left: Box::new(a.clone()),
        op: ast::BinaryOperator::Modulo,
        right: Box::new(b.clone()),
    })))
}

/// `generate_subscripts(a, d)` as `unnest(range(1, array_length(a, d) + 1))`:
/// the positions of a's elements (they start at 1), one per row, beside
/// `unnest(a)` in the same select list as PostgreSQL pairs them.
fn generate_subscripts(expr: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::Function(function) = expr else { return None };
    let [name] = function.name.0.as_slice() else { return None };
    if !name.as_ident().is_some_and(|i| i.value.eq_ignore_ascii_case("generate_subscripts")) {
        return None;
    }
    let ast::FunctionArguments::List(list) = &function.args else { return None };
    let [array, dimension] = list.args.as_slice() else { return None };
    let positions = build::call("range", [build::integer(1), build::plus(array_length(array, dimension)?, build::integer(1))]);
    Some(build::call("unnest", [positions]))
}

/// `CAST(array_length(array, CAST(dimension AS BIGINT)) AS BIGINT)`.
fn array_length(array: &ast::FunctionArg, dimension: &ast::FunctionArg) -> Option<ast::Expr> {
    let length = build::call("array_length", [build::argument(array)?, build::bigint(build::argument(dimension)?)]);
    Some(build::bigint(length))
}

/// `information_schema._pg_expandarray(a)`, a set-returning function of
/// `(x, n)` rows, as `unnest` of a list of those (see
/// [`cairn_tables::functions::EXPAND_ARRAY_FUNCTION`]).
fn expand_array(expr: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::Function(function) = expr else { return None };
    let name = function.name.0.last()?.as_ident()?;
    if !name.value.eq_ignore_ascii_case("_pg_expandarray") {
        return None;
    }
    let ast::FunctionArguments::List(list) = &function.args else { return None };
    let [array] = list.args.as_slice() else { return None };
    let expanded = build::call(cairn_tables::functions::EXPAND_ARRAY_FUNCTION, [build::argument(array)?]);
    Some(build::call("unnest", [expanded]))
}

/// `(expr).field`, a field of a composite value, as `get_field(expr,
/// 'field')`: DataFusion reads `.field` after a column only.
fn field_of_composite(expr: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::CompoundFieldAccess { root, access_chain } = expr else { return None };
    let ast::Expr::Nested(inner) = root.as_ref() else { return None };
    let [ast::AccessExpr::Dot(ast::Expr::Identifier(field))] = access_chain.as_slice() else { return None };
    Some(build::call("get_field", [inner.as_ref().clone(), build::string(&field.value.to_lowercase())]))
}

/// `'pg_catalog.array_in'::regproc` as the function's name, `'array_in'`:
/// CairnDB's pg_type names its input and output functions as text.
fn regproc_name(expr: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::Cast { expr: inner, data_type: ast::DataType::Custom(type_name, _), .. } = expr else { return None };
    let regproc = type_name.0.last()?.as_ident()?.value.eq_ignore_ascii_case("regproc");
    let ast::Expr::Value(value) = inner.as_ref() else { return None };
    let ast::Value::SingleQuotedString(name) = &value.value else { return None };
    if !regproc {
        return None;
    }
    let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
    Some(ast::Expr::value(ast::Value::SingleQuotedString(name.to_owned())))
}

/// `LIKE p ESCAPE 'c'` as `LIKE p'` with backslash as the escape, which is
/// all DataFusion takes: in `p'` backslashes are doubled and `c` becomes
/// a backslash. (SQLAlchemy writes `ESCAPE '/'`.)
fn backslash_escape(pattern: &mut Box<ast::Expr>, escape_char: &mut Option<ast::ValueWithSpan>) {
    let Some(ast::Value::SingleQuotedString(escape)) =
        escape_char.as_ref().map(|e| e.value.clone())
    else {
        return;
    };
    if escape == "\\" || escape.chars().count() != 1 || escape == "'" {
        return;
    }
    let doubled = build::call("replace", [pattern.as_ref().clone(), build::string("\\"), build::string("\\\\")]);
    **pattern = build::call("replace", [doubled, build::string(&escape), build::string("\\")]);
    *escape_char = None;
}

/// `ARRAY(SELECT x FROM …)` as `(SELECT array_agg(x) FROM …)`, which
/// DataFusion plans. (Over no rows it is NULL, where PostgreSQL gives `{}`.)
fn array_of_subquery(expr: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::Function(function) = expr else {
        return None;
    };
    let ast::FunctionArguments::Subquery(query) = &function.args else {
        return None;
    };
    let [name] = function.name.0.as_slice() else {
        return None;
    };
    if !name
        .as_ident()
        .is_some_and(|ident| ident.value.eq_ignore_ascii_case("array"))
    {
        return None;
    }
    let mut query = query.clone();
    let order = query.order_by.take();
    let ast::SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    let [item] = select.projection.as_mut_slice() else {
        return None;
    };
    let (ast::SelectItem::UnnamedExpr(value) | ast::SelectItem::ExprWithAlias { expr: value, .. }) =
        item
    else {
        return None;
    };
    // The subquery's ORDER BY orders the array.
    let order = match order.map(|order| order.kind) {
        None => Vec::new(),
        Some(ast::OrderByKind::Expressions(order)) => order,
        Some(ast::OrderByKind::All(_)) => return None,
    };
    *value = build::call_ordered("array_agg", [value.clone()], order);
    Some(ast::Expr::Subquery(query))
}


#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::ast::VisitMut;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    /// An expression after the rewrites, innermost first as the planner's
    /// visitor applies them.
    fn rewritten(sql: &str) -> String {
        let mut expr = super::super::parse_expr(sql).expect("parses");
        let _ = ast::visit_expressions_mut(&mut expr, |expr| {
            rewrite_expression(expr);
            ControlFlow::<()>::Continue(())
        });
        expr.to_string()
    }

    #[test]
    fn each_expression_rewrite_sql_in_sql_out() {
        for (sql, expected) in [
            (r#"x COLLATE "C" = 'a'"#, "x = 'a'"),
            (
                "name LIKE 'a/_%' ESCAPE '/'",
                r"name LIKE replace(replace('a/_%', '\', '\\'), '/', '\')",
            ),
            ("name LIKE 'a\\_%' ESCAPE '\\'", "name LIKE 'a\\_%' ESCAPE '\\'"),
            ("'app.t'::regclass", "cairn_regclass('app.t')"),
            ("$2::regclass", "cairn_regclass(CAST($2 AS TEXT))"),
            ("'pg_catalog.array_in'::regproc", "'array_in'"),
            ("ARRAY(SELECT x FROM t ORDER BY y DESC)", "(SELECT array_agg(x ORDER BY y DESC) FROM t)"),
            ("pg_catalog.lower(x)", "lower(x)"),
            ("generate_series(1, 3)", "unnest(generate_series(1, 3))"),
            ("array_upper(a, 1)", "CAST(array_length(a, CAST(1 AS BIGINT)) AS BIGINT)"),
            (
                "generate_subscripts(a, 1)",
                "unnest(range(1, CAST(array_length(a, CAST(1 AS BIGINT)) AS BIGINT) + 1))",
            ),
            ("information_schema._pg_expandarray(a)", "unnest(cairn_expandarray(a))"),
            ("(c).f", "get_field(c, 'f')"),
            ("upper(x) || 'y'", "upper(x) || 'y'"),
        ] {
            assert_eq!(rewritten(sql), expected, "{sql}");
        }
    }

    #[test]
    fn catalog_relations_sql_in_sql_out() {
        for (sql, expected) in [
            ("SELECT oid FROM pg_type", "SELECT oid FROM pg_catalog.pg_type"),
            ("SELECT * FROM pg_catalog.generate_series(1, 2) AS s", "SELECT * FROM generate_series(1, 2) AS s"),
            ("SELECT * FROM app.t", "SELECT * FROM app.t"),
        ] {
            let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses").remove(0);
            let _ = statement.visit(&mut RelationsOnly);
            assert_eq!(statement.to_string(), expected, "{sql}");
        }
    }

    struct RelationsOnly;

    impl ast::VisitorMut for RelationsOnly {
        type Break = ();

        fn pre_visit_relation(&mut self, name: &mut ast::ObjectName) -> ControlFlow<()> {
            catalog_relation(name);
            ControlFlow::Continue(())
        }
    }
}
