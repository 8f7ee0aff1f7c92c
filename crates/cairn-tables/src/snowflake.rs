//! `snowflake_id()`: unique, roughly time-ordered 63-bit ids, generated in
//! process. Also the hidden row key of tables declared without a primary key.
//!
//! Layout: milliseconds since 2024-01-01 in the high bits, a counter in the
//! low 22. Ids only grow within a process; across restarts they stay unique
//! as long as the clock does not move back by more than the restart took.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

const EPOCH_MS: u64 = 1_704_067_200_000;
const COUNTER_BITS: u32 = 22;

static LAST: AtomicU64 = AtomicU64::new(0);

/// The next id: strictly greater than every id this process handed out.
pub fn next_id() -> i64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let floor = now_ms.saturating_sub(EPOCH_MS) << COUNTER_BITS;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = floor.max(last + 1) & (i64::MAX as u64);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next as i64,
            Err(actual) => last = actual,
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SnowflakeId {
    signature: Signature,
}

impl ScalarUDFImpl for SnowflakeId {
    fn name(&self) -> &str {
        "snowflake_id"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ids: Int64Array = (0..args.number_rows).map(|_| Some(next_id())).collect();
        Ok(ColumnarValue::Array(std::sync::Arc::new(ids)))
    }
}

pub fn snowflake_udf() -> ScalarUDF {
    ScalarUDF::from(SnowflakeId { signature: Signature::nullary(Volatility::Volatile) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_grow_and_never_repeat() {
        let ids: Vec<i64> = (0..10_000).map(|_| next_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids[0] > 0);
    }
}
