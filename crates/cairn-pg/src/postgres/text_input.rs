//! Text cast to a type whose input PostgreSQL reads its own way: uuid,
//! json and jsonb ([`cairn_tables::values::text_input`]: checked, and in
//! the form each is kept) and dates, times and timestamps
//! ([`cairn_tables::datetime`]: PostgreSQL's forms, which Arrow's parser
//! mostly refuses). A literal is read when the statement is planned
//! (`'1'::uuid` fails then, 22P02, as in PostgreSQL); other text through
//! `text_in`, row by row.

use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use cairn_tables::datetime;
use cairn_tables::values::PG_TYPE_METADATA;
use cairn_types::CairnError;

/// What a cast's text is read as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum TextTarget {
    /// uuid, json, jsonb: text to Arrow, told apart by the field's metadata.
    Stored(cairn_types::DataType),
    /// A date, time or timestamp; `zone` is the session's `TimeZone`, in
    /// which a timestamptz without an offset is read.
    DateTime { data_type: DataType, zone: String },
}

impl TextTarget {
    /// The target of a cast to `field`, if its input is read here.
    pub(super) fn of(field: &Field, zone: &str) -> Option<TextTarget> {
        let stored = match field.metadata().get(PG_TYPE_METADATA).map(String::as_str) {
            Some("uuid") => Some(cairn_types::DataType::Uuid),
            Some("json") => Some(cairn_types::DataType::Json),
            Some("jsonb") => Some(cairn_types::DataType::Jsonb),
            _ => None,
        };
        if let Some(stored) = stored {
            return Some(TextTarget::Stored(stored));
        }
        matches!(field.data_type(), DataType::Date32 | DataType::Time64(_) | DataType::Timestamp(..))
            .then(|| TextTarget::DateTime { data_type: field.data_type().clone(), zone: zone.to_owned() })
    }

    fn data_type(&self) -> DataType {
        match self {
            TextTarget::Stored(_) => DataType::Utf8,
            TextTarget::DateTime { data_type, .. } => data_type.clone(),
        }
    }

    fn read(&self, text: &str) -> cairn_types::Result<ScalarValue> {
        let (data_type, zone) = match self {
            TextTarget::Stored(stored) => {
                return cairn_tables::values::text_input(stored, text).map(|text| ScalarValue::Utf8(Some(text)))
            }
            TextTarget::DateTime { data_type, zone } => (data_type, zone),
        };
        let timestamp = |unit: &TimeUnit, micros: i64, tz: Option<Arc<str>>| {
            let overflow = || CairnError::DatetimeFieldOverflow(format!("timestamp out of range: \"{text}\""));
            Ok(match unit {
                TimeUnit::Second => ScalarValue::TimestampSecond(Some(micros.div_euclid(1_000_000)), tz),
                TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(Some(micros.div_euclid(1_000)), tz),
                TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(micros), tz),
                TimeUnit::Nanosecond => {
                    ScalarValue::TimestampNanosecond(Some(micros.checked_mul(1_000).ok_or_else(overflow)?), tz)
                }
            })
        };
        match data_type {
            DataType::Date32 => Ok(ScalarValue::Date32(Some(datetime::date_days(text)?))),
            DataType::Time64(TimeUnit::Microsecond) => {
                Ok(ScalarValue::Time64Microsecond(Some(datetime::time_micros(text)?)))
            }
            DataType::Time64(TimeUnit::Nanosecond) => {
                Ok(ScalarValue::Time64Nanosecond(Some(datetime::time_micros(text)? * 1_000)))
            }
            DataType::Timestamp(unit, None) => timestamp(unit, datetime::timestamp_micros(text)?, None),
            DataType::Timestamp(unit, Some(tz)) => {
                timestamp(unit, datetime::timestamptz_micros(text, zone)?, Some(Arc::clone(tz)))
            }
            other => Err(CairnError::FeatureNotSupported(format!("text cannot be read as {other}"))),
        }
    }
}

/// The cast of `inner` to `field`, its text read as `target`. A value
/// that is not text, or is of the type already, keeps the cast.
pub(super) fn read_text(
    inner: Expr,
    field: FieldRef,
    target: TextTarget,
    schema: Option<&DFSchema>,
) -> Result<Transformed<Expr>> {
    let keep = |inner: Expr, field: FieldRef| Ok(Transformed::no(Expr::Cast(Cast { expr: Box::new(inner), field })));
    let read = match inner {
        Expr::Literal(
            ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text)) | ScalarValue::LargeUtf8(Some(text)),
            _,
        ) => Expr::Literal(target.read(&text).map_err(cairn_tables::error::to_df)?, None),
        other => {
            let Some(schema) = schema else { return keep(other, field) };
            let text = matches!(other.get_type(schema), Ok(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8));
            let named = field.metadata().get(PG_TYPE_METADATA);
            let same_type = named.is_some()
                && other.to_field(schema).is_ok_and(|(_, f)| f.metadata().get(PG_TYPE_METADATA) == named);
            if !text || same_type {
                return keep(other, field);
            }
            let function = ScalarUDF::from(TextIn { target, signature: Signature::any(1, Volatility::Stable) });
            Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(function), vec![other]))
        }
    };
    // The cast stays for the field's metadata (the type clients are told).
    Ok(Transformed::yes(Expr::Cast(Cast { expr: Box::new(read), field })))
}

/// `text_in(text)`: text read as a [`TextTarget`], row by row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TextIn {
    target: TextTarget,
    signature: Signature,
}

impl ScalarUDFImpl for TextIn {
    fn name(&self) -> &str {
        "text_in"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.target.data_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(text) = arrays.first() else {
            return datafusion::common::exec_err!("text_in takes one argument");
        };
        let text = cast(text, &DataType::Utf8)?;
        let null = ScalarValue::try_from(&self.target.data_type())?;
        let values = text
            .as_string::<i32>()
            .iter()
            .map(|text| text.map_or_else(|| Ok(null.clone()), |text| self.target.read(text)))
            .collect::<cairn_types::Result<Vec<_>>>()
            .map_err(cairn_tables::error::to_df)?;
        let result = match values.is_empty() {
            true => datafusion::arrow::array::new_empty_array(&self.target.data_type()),
            false => ScalarValue::iter_to_array(values)?,
        };
        cairn_tables::functions::shaped_like(&args.args, result)
    }
}
