//! Small constructors of sqlparser expressions for the rewrites: they
//! build the tree they mean rather than write SQL to be parsed again.

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentClause,
    FunctionArgumentList, FunctionArguments, Ident, ObjectName, OrderByExpr, Value,
};

/// `name(args…)`.
pub fn call(name: &str, args: impl IntoIterator<Item = Expr>) -> Expr {
    call_with(name, args, Vec::new())
}

/// `name(args… ORDER BY order…)`: an aggregate over ordered input.
pub fn call_ordered(name: &str, args: impl IntoIterator<Item = Expr>, order: Vec<OrderByExpr>) -> Expr {
    let clauses = match order.is_empty() {
        true => Vec::new(),
        false => vec![FunctionArgumentClause::OrderBy(order)],
    };
    call_with(name, args, clauses)
}

fn call_with(name: &str, args: impl IntoIterator<Item = Expr>, clauses: Vec<FunctionArgumentClause>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args.into_iter().map(|arg| FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))).collect(),
            clauses,
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

/// `CAST(expr AS data_type)`.
pub fn cast(expr: Expr, data_type: DataType) -> Expr {
    Expr::Cast { kind: CastKind::Cast, expr: Box::new(expr), data_type, array: false, format: None }
}

/// `CAST(expr AS BIGINT)`.
pub fn bigint(expr: Expr) -> Expr {
    cast(expr, DataType::BigInt(None))
}

/// A string literal.
pub fn string(text: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(text.to_owned()))
}

/// An integer literal.
pub fn integer(n: i64) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}

/// `left + right`.
pub fn plus(left: Expr, right: Expr) -> Expr {
    Expr::BinaryOp { left: Box::new(left), op: BinaryOperator::Plus, right: Box::new(right) }
}

/// A positional argument's expression (`None` for `*`, named ones, …).
pub fn argument(arg: &FunctionArg) -> Option<Expr> {
    match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Some(expr.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_expressions_print_as_the_sql_they_mean() {
        let length = call("array_length", [Expr::Identifier(Ident::new("a")), bigint(integer(1))]);
        assert_eq!(plus(cast(length, DataType::BigInt(None)), integer(1)).to_string(), "CAST(array_length(a, CAST(1 AS BIGINT)) AS BIGINT) + 1");
        assert_eq!(call("replace", [string("it's"), string("\\")]).to_string(), r"replace('it''s', '\')");
    }
}
