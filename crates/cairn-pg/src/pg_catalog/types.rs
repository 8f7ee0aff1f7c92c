//! PostgreSQL's built-in types as CairnDB columns use them: their OIDs,
//! names as `format_type` prints them, and the `pg_type` rows.

use cairn_types::DataType;

/// A built-in type: OID, `typname`, `format_type` name, length (-1:
/// variable), array type OID (0 for array types), element OID (arrays).
pub struct BuiltinType {
    pub oid: u32,
    pub name: &'static str,
    pub display: &'static str,
    pub len: i16,
    pub array: u32,
    pub element: u32,
    pub category: &'static str,
}

const fn base(oid: u32, name: &'static str, display: &'static str, len: i16, array: u32, category: &'static str) -> BuiltinType {
    BuiltinType { oid, name, display, len, array, element: 0, category }
}

const fn array(oid: u32, name: &'static str, display: &'static str, element: u32) -> BuiltinType {
    BuiltinType { oid, name, display, len: -1, array: 0, element, category: "A" }
}

/// The types CairnDB's columns and catalogs are sent as.
pub const BUILTIN_TYPES: &[BuiltinType] = &[
    base(16, "bool", "boolean", 1, 1000, "B"),
    base(17, "bytea", "bytea", -1, 1001, "U"),
    base(18, "char", "\"char\"", 1, 1002, "Z"),
    base(19, "name", "name", 64, 1003, "S"),
    base(20, "int8", "bigint", 8, 1016, "N"),
    base(21, "int2", "smallint", 2, 1005, "N"),
    base(23, "int4", "integer", 4, 1007, "N"),
    base(25, "text", "text", -1, 1009, "S"),
    base(26, "oid", "oid", 4, 1028, "N"),
    base(114, "json", "json", -1, 199, "U"),
    base(700, "float4", "real", 4, 1021, "N"),
    base(701, "float8", "double precision", 8, 1022, "N"),
    base(1043, "varchar", "character varying", -1, 1015, "S"),
    base(1082, "date", "date", 4, 1182, "D"),
    base(1083, "time", "time without time zone", 8, 1183, "D"),
    base(1114, "timestamp", "timestamp without time zone", 8, 1115, "D"),
    base(1184, "timestamptz", "timestamp with time zone", 8, 1185, "D"),
    base(1186, "interval", "interval", 16, 1187, "T"),
    base(1700, "numeric", "numeric", -1, 1231, "N"),
    base(2950, "uuid", "uuid", 16, 2951, "U"),
    base(3802, "jsonb", "jsonb", -1, 3807, "U"),
    array(1000, "_bool", "boolean[]", 16),
    array(1001, "_bytea", "bytea[]", 17),
    array(1002, "_char", "\"char\"[]", 18),
    array(1003, "_name", "name[]", 19),
    array(1005, "_int2", "smallint[]", 21),
    array(1007, "_int4", "integer[]", 23),
    array(1009, "_text", "text[]", 25),
    array(1015, "_varchar", "character varying[]", 1043),
    array(1016, "_int8", "bigint[]", 20),
    array(1021, "_float4", "real[]", 700),
    array(1022, "_float8", "double precision[]", 701),
    array(1028, "_oid", "oid[]", 26),
    array(1115, "_timestamp", "timestamp without time zone[]", 1114),
    array(1182, "_date", "date[]", 1082),
    array(1183, "_time", "time without time zone[]", 1083),
    array(1185, "_timestamptz", "timestamp with time zone[]", 1184),
    array(1187, "_interval", "interval[]", 1186),
    array(1231, "_numeric", "numeric[]", 1700),
    array(199, "_json", "json[]", 114),
    array(2951, "_uuid", "uuid[]", 2950),
    array(3807, "_jsonb", "jsonb[]", 3802),
];

pub fn builtin(oid: u32) -> Option<&'static BuiltinType> {
    BUILTIN_TYPES.iter().find(|t| t.oid == oid)
}

/// A column type's OID and type modifier (-1: none), as `pg_attribute`
/// records them.
pub fn type_of(data_type: &DataType) -> (u32, i32) {
    match data_type {
        DataType::Boolean => (16, -1),
        DataType::SmallInt => (21, -1),
        DataType::Int => (23, -1),
        DataType::BigInt => (20, -1),
        DataType::Real => (700, -1),
        DataType::Double => (701, -1),
        DataType::Numeric { precision, scale } => {
            (1700, ((i32::from(*precision) << 16) | i32::from(*scale as u8)) + 4)
        }
        DataType::Text => (25, -1),
        DataType::Varchar { max_len } => (1043, max_len.map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX - 4) + 4)),
        DataType::Bytea => (17, -1),
        DataType::Date => (1082, -1),
        DataType::Time => (1083, -1),
        DataType::Timestamp => (1114, -1),
        DataType::TimestampTz => (1184, -1),
        DataType::Interval => (1186, -1),
        DataType::Uuid => (2950, -1),
        DataType::Json => (114, -1),
        DataType::Jsonb => (3802, -1),
        DataType::Array(element) => {
            let (element, typmod) = type_of(element);
            (builtin(element).map_or(0, |t| t.array), typmod)
        }
    }
}

/// The OID of the type a result column of this Arrow type is sent as,
/// given the PostgreSQL type its field metadata names (uuid, json, jsonb
/// and `"char"` are text to Arrow). Anything not listed is sent as text.
/// The wire encoder and `pg_typeof` both read types from here.
pub fn oid_of_arrow(data_type: &arrow::datatypes::DataType, named: Option<&str>) -> u32 {
    use arrow::datatypes::{DataType as Arrow, IntervalUnit};
    match named {
        Some("uuid") => return 2950,
        Some("json") => return 114,
        Some("jsonb") => return 3802,
        Some("char") => return 18,
        Some("name") => return 19,
        Some("varchar") => return 1043,
        _ => {}
    }
    match data_type {
        Arrow::Interval(IntervalUnit::MonthDayNano) => 1186,
        // Arrays of the element types the encoder writes arrays of; others
        // go as their text.
        Arrow::List(element) | Arrow::LargeList(element) => match oid_of_arrow(element.data_type(), None) {
            element @ (16 | 17 | 20 | 21 | 23 | 25 | 700 | 701 | 1082 | 1114 | 1184 | 1700) => {
                builtin(element).map_or(25, |t| t.array)
            }
            _ => 25,
        },
        Arrow::Boolean => 16,
        Arrow::Int8 | Arrow::Int16 | Arrow::UInt8 => 21,
        Arrow::Int32 | Arrow::UInt16 => 23,
        // pg_catalog's OID columns are UInt32.
        Arrow::UInt32 => 26,
        Arrow::Int64 | Arrow::UInt64 => 20,
        Arrow::Float16 | Arrow::Float32 => 700,
        Arrow::Float64 => 701,
        Arrow::Binary | Arrow::LargeBinary | Arrow::BinaryView | Arrow::FixedSizeBinary(_) => 17,
        Arrow::Date32 | Arrow::Date64 => 1082,
        Arrow::Time64(_) => 1083,
        Arrow::Timestamp(_, None) => 1114,
        Arrow::Timestamp(_, Some(_)) => 1184,
        Arrow::Decimal128(_, scale) if *scale >= 0 => 1700,
        _ => 25,
    }
}

/// `format_type(oid, typmod)`.
pub fn format_type(oid: u32, typmod: i32) -> Option<String> {
    let builtin = builtin(oid)?;
    let modifier = |base: u32| match (base, typmod) {
        (_, m) if m < 4 => String::new(),
        (1043, m) => format!("({})", m - 4),
        (1700, m) => format!("({},{})", (m - 4) >> 16, (m - 4) & 0xFFFF),
        _ => String::new(),
    };
    Some(match builtin.element {
        0 => format!("{}{}", builtin.display, modifier(oid)),
        element => {
            let element_name = self::builtin(element).map_or("unknown", |t| t.display);
            format!("{element_name}{}[]", modifier(element))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_format_as_postgres_prints_them() {
        let format = |t: DataType| {
            let (oid, typmod) = type_of(&t);
            format_type(oid, typmod).expect("succeeds")
        };
        assert_eq!(format(DataType::BigInt), "bigint");
        assert_eq!(format(DataType::Varchar { max_len: Some(20) }), "character varying(20)");
        assert_eq!(format(DataType::Numeric { precision: 12, scale: 2 }), "numeric(12,2)");
        assert_eq!(format(DataType::TimestampTz), "timestamp with time zone");
        assert_eq!(format(DataType::Array(Box::new(DataType::Text))), "text[]");
        assert_eq!(format_type(999_999, -1), None);
    }

    #[test]
    fn every_array_type_points_at_its_element_and_back() {
        for t in BUILTIN_TYPES.iter().filter(|t| t.element != 0) {
            assert_eq!(builtin(t.element).map(|e| e.array), Some(t.oid), "{}", t.name);
        }
    }
}
