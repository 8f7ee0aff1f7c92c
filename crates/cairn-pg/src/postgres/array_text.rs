//! An array cast to text written as PostgreSQL writes arrays (`{1,2}`,
//! `{a,"b c",NULL}`); Arrow's cast writes `[1, 2]`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use cairn_types::Value;

/// Casts of arrays to text become `array_out(…)`.
#[derive(Debug)]
pub struct ArrayText;

impl AnalyzerRule for ArrayText {
    fn name(&self) -> &str {
        "cairn_array_text"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let schema = match node.inputs().as_slice() {
                [input] => Arc::clone(input.schema()),
                _ => return Ok(Transformed::no(node)),
            };
            node.map_expressions(|expr| {
                expr.transform_up(|expr| match expr {
                    Expr::Cast(Cast { expr: inner, field })
                        if matches!(field.data_type(), DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
                            && matches!(inner.get_type(&schema), Ok(DataType::List(_) | DataType::LargeList(_))) =>
                    {
                        let out = Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(array_out()), vec![*inner]));
                        Ok(Transformed::yes(Expr::Cast(Cast { expr: Box::new(out), field })))
                    }
                    other => Ok(Transformed::no(other)),
                })
            })
        })
        .map(|t| t.data)
    }
}

fn array_out() -> ScalarUDF {
    ScalarUDF::from(ArrayOut { signature: Signature::any(1, Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayOut {
    signature: Signature,
}

impl ScalarUDFImpl for ArrayOut {
    fn name(&self) -> &str {
        "array_out"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(lists) = arrays.first() else {
            return datafusion::common::exec_err!("array_out takes one argument");
        };
        let texts = (0..lists.len())
            .map(|row| match lists.is_null(row) {
                true => Ok(None),
                false => value_of(&ScalarValue::try_from_array(lists, row)?).map(|v| Some(cairn_tables::pg_text::value(&v))),
            })
            .collect::<Result<StringArray>>()?;
        let result: ArrayRef = Arc::new(texts);
        cairn_tables::functions::shaped_like(&args.args, result)
    }
}

/// A scalar as the value PostgreSQL's text form is written from.
fn value_of(scalar: &ScalarValue) -> Result<Value> {
    Ok(match scalar {
        s if s.is_null() => Value::Null,
        ScalarValue::Boolean(Some(b)) => Value::Boolean(*b),
        ScalarValue::Int8(Some(n)) => Value::Int16(i16::from(*n)),
        ScalarValue::Int16(Some(n)) => Value::Int16(*n),
        ScalarValue::Int32(Some(n)) => Value::Int32(*n),
        ScalarValue::Int64(Some(n)) => Value::Int64(*n),
        ScalarValue::Float32(Some(f)) => Value::Float32(*f),
        ScalarValue::Float64(Some(f)) => Value::Float64(*f),
        ScalarValue::Decimal128(Some(mantissa), _, scale) => Value::Decimal { mantissa: *mantissa, scale: *scale },
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => {
            Value::Text(s.clone())
        }
        ScalarValue::Date32(Some(days)) => Value::Date(*days),
        ScalarValue::TimestampMicrosecond(Some(micros), tz) => timestamp(*micros, tz.is_some()),
        ScalarValue::TimestampNanosecond(Some(nanos), tz) => timestamp(nanos.div_euclid(1_000), tz.is_some()),
        ScalarValue::List(list) => {
            let values = list.value(0);
            Value::Array(
                (0..values.len())
                    .map(|i| ScalarValue::try_from_array(&values, i).and_then(|s| value_of(&s)))
                    .collect::<Result<_>>()?,
            )
        }
        other => {
            let text = datafusion::arrow::compute::cast(&other.to_array()?, &DataType::Utf8)?;
            Value::Text(text.as_string::<i32>().value(0).to_owned())
        }
    })
}

fn timestamp(micros: i64, zoned: bool) -> Value {
    match zoned {
        true => Value::TimestampTz(micros),
        false => Value::Timestamp(micros),
    }
}
