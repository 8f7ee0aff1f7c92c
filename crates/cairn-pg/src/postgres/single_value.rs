//! `single_value(v)`: the value of a scalar subquery, which PostgreSQL
//! requires to find at most one row. The only row's value, NULL for none,
//! and 21000 for a second row; DataFusion would join the subquery in and
//! answer for one arbitrary row (or repeat the outer row per match).

use std::sync::Arc;

use cairn_types::CairnError;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

/// The name scalar subqueries are restated with (see `subqueries`).
pub const SINGLE_VALUE: &str = "single_value";

pub fn single_value() -> AggregateUDF {
    AggregateUDF::from(SingleValue { signature: Signature::any(1, Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SingleValue {
    signature: Signature,
}

impl AggregateUDFImpl for SingleValue {
    fn name(&self) -> &str {
        SINGLE_VALUE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Null))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let none = ScalarValue::try_from(args.return_field.data_type())?;
        Ok(Box::new(OneRow { value: none, rows: 0 }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(args.return_field.as_ref().clone().with_name(format_state_name(args.name, "value"))),
            Arc::new(Field::new(format_state_name(args.name, "rows"), DataType::UInt64, false)),
        ])
    }
}

/// The value of the rows seen so far, and how many there were.
#[derive(Debug)]
struct OneRow {
    value: ScalarValue,
    rows: u64,
}

impl OneRow {
    fn add(&mut self, values: &ArrayRef, row: usize, rows: u64) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        self.rows += rows;
        if self.rows > 1 {
            return Err(cairn_tables::error::to_df(CairnError::CardinalityViolation(
                "more than one row returned by a subquery used as an expression".into(),
            )));
        }
        self.value = ScalarValue::try_from_array(values, row)?;
        Ok(())
    }
}

impl Accumulator for OneRow {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(values) = values.first() else { return Ok(()) };
        for row in 0..values.len() {
            self.add(values, row, 1)?;
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [values, rows] = states else {
            return datafusion::common::exec_err!("single_value merges a value and a count");
        };
        let rows = rows.as_primitive::<UInt64Type>();
        for row in 0..values.len() {
            self.add(values, row, rows.value(row))?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.value.clone(), ScalarValue::UInt64(Some(self.rows))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size() - std::mem::size_of_val(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, UInt64Array};

    #[test]
    fn one_row_is_its_value_none_is_null_two_are_21000() {
        let mut one = OneRow { value: ScalarValue::Int32(None), rows: 0 };
        assert_eq!(one.evaluate().expect("none"), ScalarValue::Int32(None));
        one.update_batch(&[Arc::new(Int32Array::from(vec![7])) as ArrayRef]).expect("one row");
        assert_eq!(one.evaluate().expect("one"), ScalarValue::Int32(Some(7)));
        let error = one.update_batch(&[Arc::new(Int32Array::from(vec![8])) as ArrayRef]).expect_err("two rows");
        assert_eq!(cairn_tables::error::from_df(error).code().as_str(), "21000");
        // Partial states: a partition that saw nothing adds nothing.
        let mut merged = OneRow { value: ScalarValue::Int32(None), rows: 0 };
        let values = Arc::new(Int32Array::from(vec![None, Some(5)])) as ArrayRef;
        let rows = Arc::new(UInt64Array::from(vec![0, 1])) as ArrayRef;
        merged.merge_batch(&[values, rows]).expect("merges");
        assert_eq!(merged.evaluate().expect("merged"), ScalarValue::Int32(Some(5)));
    }
}
