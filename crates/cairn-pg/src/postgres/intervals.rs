//! `interval * number`, `number * interval` and `interval / number`, as
//! PostgreSQL computes them (`interval_mul`, `interval_div`): each field
//! is scaled, and what a month or a day leaves as a fraction is carried
//! down, a month as 30 days and a day as 24 hours (`interval '1 month' *
//! 1.5` is `1 mon 15 days`). DataFusion has no such operator.
//!
//! And `timestamp - timestamp`, which is an interval of days and time in
//! PostgreSQL (`1 day 01:30:00`); DataFusion's is a duration.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use cairn_tables::error::to_df;
use cairn_types::CairnError;

const DAYS_PER_MONTH: f64 = 30.0;
const SECONDS_PER_DAY: f64 = 86_400.0;

/// The scaling `op` between `left` and `right`, if it is one.
pub fn plan_operator(op: &BinaryOperator, left: &Expr, right: &Expr, schema: &DFSchema) -> Option<Expr> {
    let interval = |e: &Expr| matches!(e.get_type(schema), Ok(DataType::Interval(_)));
    let number = |e: &Expr| e.get_type(schema).is_ok_and(|t| t.is_numeric());
    let timestamp = |e: &Expr| matches!(e.get_type(schema), Ok(DataType::Timestamp(..)));
    if *op == BinaryOperator::Minus && timestamp(left) && timestamp(right) {
        let difference = datafusion::logical_expr::binary_expr(left.clone(), datafusion::logical_expr::Operator::Minus, right.clone());
        let function = ScalarUDF::from(DurationToInterval { signature: Signature::any(1, Volatility::Immutable) });
        return Some(function.call(vec![difference]));
    }
    let (divide, interval_side, factor) = match op {
        BinaryOperator::Multiply if interval(left) && number(right) => (false, left, right),
        BinaryOperator::Multiply if number(left) && interval(right) => (false, right, left),
        BinaryOperator::Divide if interval(left) && number(right) => (true, left, right),
        _ => return None,
    };
    let function = ScalarUDF::from(IntervalScale { divide, signature: Signature::any(2, Volatility::Immutable) });
    Some(function.call(vec![interval_side.clone(), factor.clone()]))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalScale {
    divide: bool,
    signature: Signature,
}

impl ScalarUDFImpl for IntervalScale {
    fn name(&self) -> &str {
        if self.divide {
            "interval_div"
        } else {
            "interval_mul"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [intervals, factors] = arrays.as_slice() else {
            return datafusion::common::exec_err!("{} takes two arguments", self.name());
        };
        let intervals = cast(intervals, &DataType::Interval(IntervalUnit::MonthDayNano))?;
        let intervals = intervals.as_primitive::<IntervalMonthDayNanoType>();
        let factors = cast(factors, &DataType::Float64)?;
        let factors = factors.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        let scaled = intervals
            .iter()
            .zip(factors.iter())
            .map(|pair| match pair {
                (Some(interval), Some(factor)) => scale(interval, factor, self.divide).map(Some),
                _ => Ok(None),
            })
            .collect::<cairn_types::Result<IntervalMonthDayNanoArray>>()
            .map_err(to_df)?;
        let result: ArrayRef = Arc::new(scaled);
        cairn_tables::functions::shaped_like(&args.args, result)
    }
}

/// A duration as PostgreSQL's `timestamp_mi` makes it an interval: whole
/// days and the time left (`justify_hours`), no months.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DurationToInterval {
    signature: Signature,
}

impl ScalarUDFImpl for DurationToInterval {
    fn name(&self) -> &str {
        "timestamp_mi"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(durations) = arrays.first() else {
            return datafusion::common::exec_err!("timestamp_mi takes one argument");
        };
        let nanos = cast(durations, &DataType::Duration(datafusion::arrow::datatypes::TimeUnit::Nanosecond))?;
        let nanos = cast(&nanos, &DataType::Int64)?;
        const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;
        let intervals: IntervalMonthDayNanoArray = nanos
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .iter()
            .map(|nanos| {
                nanos.map(|nanos| {
                    IntervalMonthDayNano::new(0, (nanos / NANOS_PER_DAY) as i32, nanos % NANOS_PER_DAY)
                })
            })
            .collect();
        let result: ArrayRef = Arc::new(intervals);
        cairn_tables::functions::shaped_like(&args.args, result)
    }
}

/// Rounded to microseconds, as PostgreSQL's `TSROUND`.
fn to_micros(seconds: f64) -> f64 {
    (seconds * 1e6).round_ties_even() / 1e6
}

fn scale(interval: IntervalMonthDayNano, factor: f64, divide: bool) -> cairn_types::Result<IntervalMonthDayNano> {
    if divide && factor == 0.0 {
        return Err(CairnError::DivisionByZero);
    }
    let apply = |x: f64| if divide { x / factor } else { x * factor };
    let out_of_range = || CairnError::DatetimeFieldOverflow("interval out of range".into());
    let field = |x: f64| match x.is_finite() && x.abs() < f64::from(i32::MAX) {
        true => Ok(x.trunc() as i32),
        false => Err(out_of_range()),
    };
    let months = field(apply(f64::from(interval.months)))?;
    let mut days = field(apply(f64::from(interval.days)))?;
    let month_remainder_days = to_micros((apply(f64::from(interval.months)) - f64::from(months)) * DAYS_PER_MONTH);
    let mut second_remainder = to_micros(
        (apply(f64::from(interval.days)) - f64::from(days) + month_remainder_days - month_remainder_days.trunc())
            * SECONDS_PER_DAY,
    );
    if second_remainder.abs() >= SECONDS_PER_DAY {
        let whole_days = (second_remainder / SECONDS_PER_DAY).trunc();
        days += whole_days as i32;
        second_remainder -= whole_days * SECONDS_PER_DAY;
    }
    days = days.checked_add(month_remainder_days.trunc() as i32).ok_or_else(out_of_range)?;
    let micros = (apply(interval.nanoseconds as f64 / 1_000.0) + second_remainder * 1e6).round_ties_even();
    if !micros.is_finite() || micros.abs() >= i64::MAX as f64 / 1_000.0 {
        return Err(out_of_range());
    }
    Ok(IntervalMonthDayNano::new(months, days, micros as i64 * 1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaled(months: i32, days: i32, seconds: i64, factor: f64, divide: bool) -> (i32, i32, i64) {
        let interval = IntervalMonthDayNano::new(months, days, seconds * 1_000_000_000);
        let out = scale(interval, factor, divide).expect("scales");
        (out.months, out.days, out.nanoseconds / 1_000)
    }

    #[test]
    fn fractions_carry_down_as_in_postgresql() {
        assert_eq!(scaled(0, 1, 0, 2.0, false), (0, 2, 0));
        assert_eq!(scaled(0, 1, 0, 2.0, true), (0, 0, 43_200_000_000));
        assert_eq!(scaled(0, 0, 3600, 1.5, false), (0, 0, 5_400_000_000));
        assert_eq!(scaled(1, 0, 0, 1.5, false), (1, 15, 0));
        assert_eq!(scaled(1, 0, 0, 3.0, true), (0, 10, 0));
        assert_eq!(scale(IntervalMonthDayNano::new(0, 1, 0), 0.0, true).expect_err("by zero").code().as_str(), "22012");
    }
}
