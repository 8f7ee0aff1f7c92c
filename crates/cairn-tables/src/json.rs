//! PostgreSQL's json and jsonb values: parsing, jsonb's normal form, the
//! text forms PostgreSQL writes, and the operations its operators and
//! functions are made of (`cairn_pg::postgres::json` plans them).
//!
//! Both types are text to Arrow. A json value is kept as written; a
//! jsonb value is kept in its normal form, so that its text is what
//! PostgreSQL prints and equal values are equal text: object keys sorted
//! (shorter first, then bytewise), the last of duplicate keys kept,
//! numbers as numeric writes them (`1e2` is `100`), `{"a": [1, 2]}`
//! spacing.
//!
//! The parser is written here rather than taken from serde_json: numbers
//! must keep their digits (serde_json keeps them only with its global
//! `arbitrary_precision` feature, which would change it for every crate
//! of the build), a json object keeps its duplicate keys, and a json
//! value's parts are returned as the very text they were written as.

use std::ops::Range;

use cairn_types::{CairnError, Result};

/// A parsed json or jsonb value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// As written (json) or as numeric writes it (jsonb).
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Members in order, duplicates included (json); sorted and unique
    /// (jsonb).
    Object(Vec<(String, Node)>),
}

/// A value and where it was in the text it was parsed from (empty once
/// made rather than parsed).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Json,
    pub span: Range<usize>,
}

impl Node {
    pub fn new(value: Json) -> Node {
        Node { value, span: 0..0 }
    }
}

/// A part of a value: an object's member or an array's element (from
/// the end when negative), as `->` and the paths of `#>` name them.
#[derive(Debug, Clone)]
pub enum Step {
    Key(String),
    Index(i64),
}

fn invalid_json(detail: &str) -> CairnError {
    CairnError::InvalidJson { detail: detail.to_owned() }
}

impl Json {
    /// Parses json text (22P02 if it is not).
    pub fn parse(text: &str) -> Result<Node> {
        let mut parser = Parser { text, bytes: text.as_bytes(), at: 0 };
        parser.skip_space();
        let node = parser.value(0)?;
        parser.skip_space();
        if parser.at < text.len() {
            return Err(parser.unexpected());
        }
        Ok(node)
    }

    /// Parses jsonb text into its normal form.
    pub fn parse_jsonb(text: &str) -> Result<Json> {
        Ok(Json::parse(text)?.value.normalized())
    }

    /// The jsonb normal form of this value (see the module's comment).
    pub fn normalized(self) -> Json {
        match self {
            Json::Number(written) => Json::Number(numeric_text(&written)),
            Json::Array(elements) => {
                Json::Array(elements.into_iter().map(|node| Node::new(node.value.normalized())).collect())
            }
            Json::Object(members) => {
                let mut sorted: Vec<(String, Node)> = Vec::with_capacity(members.len());
                for (key, node) in members {
                    let node = Node::new(node.value.normalized());
                    match sorted.binary_search_by(|(k, _)| jsonb_key_order(k, &key)) {
                        Ok(at) => sorted[at].1 = node,
                        Err(at) => sorted.insert(at, (key, node)),
                    }
                }
                Json::Object(sorted)
            }
            other => other,
        }
    }

    /// As jsonb prints it: `{"a": 1, "b": [1, 2]}`.
    pub fn jsonb_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, ": ", ", ");
        out
    }

    /// As json functions write it: `json_build_object` with `" : "` and
    /// `", "`, `to_json` and `row_to_json` with `":"` and `","`.
    pub fn json_text(&self, key_separator: &str, separator: &str) -> String {
        let mut out = String::new();
        self.write(&mut out, key_separator, separator);
        out
    }

    fn write(&self, out: &mut String, key_separator: &str, separator: &str) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Number(number) => out.push_str(number),
            Json::String(text) => write_string(out, text),
            Json::Array(elements) => {
                out.push('[');
                for (i, node) in elements.iter().enumerate() {
                    if i > 0 {
                        out.push_str(separator);
                    }
                    node.value.write(out, key_separator, separator);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, node)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(separator);
                    }
                    write_string(out, key);
                    out.push_str(key_separator);
                    node.value.write(out, key_separator, separator);
                }
                out.push('}');
            }
        }
    }

    /// What `->>` gives: a string's text unquoted, NULL for null, any
    /// other value as `text_of` writes it.
    pub fn as_text(&self, text_of: impl Fn(&Json) -> String) -> Option<String> {
        match self {
            Json::Null => None,
            Json::String(text) => Some(text.clone()),
            other => Some(text_of(other)),
        }
    }

    /// The member or element `step` names. Of a json object with the key
    /// twice, the last, as PostgreSQL's `->` finds it.
    pub fn get(&self, step: &Step) -> Option<&Node> {
        match (self, step) {
            (Json::Object(members), Step::Key(key)) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            (Json::Array(elements), Step::Index(index)) => {
                let len = i64::try_from(elements.len()).ok()?;
                let position = if *index < 0 { len + index } else { *index };
                usize::try_from(position).ok().and_then(|p| elements.get(p))
            }
            _ => None,
        }
    }

    /// The value at `path` (`#>`): each step a key of an object or the
    /// position of an array's element (a step that is not a number names
    /// no element).
    pub fn get_path(&self, path: &[String]) -> Option<&Node> {
        let mut steps = path.iter();
        let first = steps.next()?;
        let mut found = self.get(&self.step_of(first)?)?;
        for step in steps {
            found = found.value.get(&found.value.step_of(step)?)?;
        }
        Some(found)
    }

    /// A path element read as this value's kind of step.
    fn step_of(&self, text: &str) -> Option<Step> {
        match self {
            Json::Array(_) => text.trim().parse().ok().map(Step::Index),
            _ => Some(Step::Key(text.to_owned())),
        }
    }

    /// jsonb `@>`: whether `other` is contained in this value, as
    /// PostgreSQL defines it (an array contains the elements of another,
    /// in any order; a top-level array also contains a scalar).
    pub fn contains(&self, other: &Json) -> bool {
        self.contains_at(other, true)
    }

    fn contains_at(&self, other: &Json, top: bool) -> bool {
        match (self, other) {
            (Json::Object(members), Json::Object(wanted)) => wanted.iter().all(|(key, want)| {
                members
                    .iter()
                    .find(|(k, _)| k == key)
                    .is_some_and(|(_, have)| have.value.contains_at(&want.value, false))
            }),
            (Json::Array(elements), Json::Array(wanted)) => wanted.iter().all(|want| {
                elements.iter().any(|have| have.value.contains_at(&want.value, false) && same_kind(&have.value, &want.value))
            }),
            (Json::Array(elements), scalar) if top && is_scalar(scalar) => {
                elements.iter().any(|have| have.value == *scalar)
            }
            (a, b) => is_scalar(a) && a == b,
        }
    }

    /// jsonb `?`: whether `key` is a key of this object, or a string
    /// element of this array, or this string.
    pub fn has_key(&self, key: &str) -> bool {
        match self {
            Json::Object(members) => members.iter().any(|(k, _)| k == key),
            Json::Array(elements) => elements.iter().any(|node| matches!(&node.value, Json::String(s) if s == key)),
            Json::String(s) => s == key,
            _ => false,
        }
    }

    /// `jsonb_typeof`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// jsonb `||`: objects merged (the right's keys win), arrays
    /// appended, a scalar or object joined to an array as an element.
    pub fn concat(self, other: Json) -> Json {
        match (self, other) {
            (Json::Object(mut left), Json::Object(right)) => {
                left.extend(right);
                Json::Object(left).normalized()
            }
            (Json::Array(mut left), Json::Array(right)) => {
                left.extend(right);
                Json::Array(left)
            }
            (Json::Array(mut left), right) => {
                left.push(Node::new(right));
                Json::Array(left)
            }
            (left, Json::Array(mut right)) => {
                right.insert(0, Node::new(left));
                Json::Array(right)
            }
            (left, right) => Json::Array(vec![Node::new(left), Node::new(right)]),
        }
    }

    /// jsonb `-`: without the member `key` (of an object) or the string
    /// elements equal to it (of an array).
    pub fn remove_key(self, key: &str) -> Json {
        match self {
            Json::Object(members) => Json::Object(members.into_iter().filter(|(k, _)| k != key).collect()),
            Json::Array(elements) => Json::Array(
                elements.into_iter().filter(|node| !matches!(&node.value, Json::String(s) if s == key)).collect(),
            ),
            other => other,
        }
    }

    /// jsonb `- int`: without that element of an array.
    pub fn remove_index(self, index: i64) -> Result<Json> {
        match self {
            Json::Array(mut elements) => {
                let len = i64::try_from(elements.len()).unwrap_or(i64::MAX);
                let position = if index < 0 { len + index } else { index };
                if let Ok(position) = usize::try_from(position) {
                    if position < elements.len() {
                        elements.remove(position);
                    }
                }
                Ok(Json::Array(elements))
            }
            Json::Object(_) => Err(CairnError::InvalidParameterValue("cannot delete from object using integer index".into())),
            _ => Err(CairnError::InvalidParameterValue("cannot delete from scalar".into())),
        }
    }

    /// `#-`: without the value at `path`.
    pub fn remove_path(self, path: &[String]) -> Json {
        let Some((last, parents)) = path.split_last() else { return self };
        self.edit_at(parents, &mut |parent| match parent {
            Json::Object(members) => Json::Object(members.into_iter().filter(|(k, _)| k != last).collect()),
            Json::Array(elements) => match last.trim().parse::<i64>() {
                Ok(index) => Json::Array(elements).remove_index(index).unwrap_or(Json::Null),
                Err(_) => Json::Array(elements),
            },
            other => other,
        })
    }

    /// `jsonb_set(target, path, value, create_missing)` and
    /// `jsonb_insert(target, path, value, insert_after)`.
    pub fn set_path(self, path: &[String], value: Json, mode: SetMode) -> Json {
        let Some((last, parents)) = path.split_last() else { return self };
        self.edit_at(parents, &mut |parent| match parent {
            Json::Object(mut members) => {
                match members.iter_mut().find(|(k, _)| k == last) {
                    Some((_, node)) if mode == SetMode::Replace || mode == SetMode::ReplaceOrCreate => {
                        *node = Node::new(value.clone())
                    }
                    Some(_) => {}
                    None if mode != SetMode::Replace => members.push((last.clone(), Node::new(value.clone()))),
                    None => {}
                }
                Json::Object(members).normalized()
            }
            Json::Array(mut elements) => {
                let Ok(index) = last.trim().parse::<i64>() else { return Json::Array(elements) };
                let len = i64::try_from(elements.len()).unwrap_or(i64::MAX);
                let position = if index < 0 { len + index } else { index };
                let node = Node::new(value.clone());
                match mode {
                    SetMode::InsertBefore | SetMode::InsertAfter => {
                        let at = position + i64::from(mode == SetMode::InsertAfter);
                        let at = usize::try_from(at.clamp(0, len)).unwrap_or(elements.len());
                        elements.insert(at, node);
                    }
                    _ if (0..len).contains(&position) => {
                        elements[usize::try_from(position).unwrap_or_default()] = node;
                    }
                    SetMode::ReplaceOrCreate if position >= len => elements.push(node),
                    SetMode::ReplaceOrCreate if position < 0 => elements.insert(0, node),
                    _ => {}
                }
                Json::Array(elements)
            }
            other => other,
        })
    }

    /// This value with `edit` applied to the value at `path` (left as it
    /// is where the path leads nowhere).
    fn edit_at(self, path: &[String], edit: &mut dyn FnMut(Json) -> Json) -> Json {
        let Some((first, rest)) = path.split_first() else { return edit(self) };
        match self {
            Json::Object(members) => Json::Object(
                members
                    .into_iter()
                    .map(|(key, node)| match key == *first {
                        true => (key, Node::new(node.value.edit_at(rest, edit))),
                        false => (key, node),
                    })
                    .collect(),
            ),
            Json::Array(elements) => {
                let len = i64::try_from(elements.len()).unwrap_or(i64::MAX);
                let position = first.trim().parse::<i64>().ok().map(|i| if i < 0 { len + i } else { i });
                Json::Array(
                    elements
                        .into_iter()
                        .enumerate()
                        .map(|(i, node)| match position == i64::try_from(i).ok() {
                            true => Node::new(node.value.edit_at(rest, edit)),
                            false => node,
                        })
                        .collect(),
                )
            }
            other => other,
        }
    }

    /// `jsonb_strip_nulls`: without object members that are null, at
    /// every depth.
    pub fn strip_nulls(self) -> Json {
        match self {
            Json::Object(members) => Json::Object(
                members
                    .into_iter()
                    .filter(|(_, node)| node.value != Json::Null)
                    .map(|(key, node)| (key, Node::new(node.value.strip_nulls())))
                    .collect(),
            ),
            Json::Array(elements) => {
                Json::Array(elements.into_iter().map(|node| Node::new(node.value.strip_nulls())).collect())
            }
            other => other,
        }
    }
}

/// How [`Json::set_path`] treats the last step of its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetMode {
    /// `jsonb_set(…, false)`: replace what is there, add nothing.
    Replace,
    /// `jsonb_set(…)`: replace, or add a missing member or element.
    ReplaceOrCreate,
    /// `jsonb_insert(…)`: a new array element before the position (or a
    /// new member, never replacing one).
    InsertBefore,
    /// `jsonb_insert(…, true)`.
    InsertAfter,
}

fn is_scalar(value: &Json) -> bool {
    !matches!(value, Json::Array(_) | Json::Object(_))
}

fn same_kind(a: &Json, b: &Json) -> bool {
    matches!(
        (a, b),
        (Json::Array(_), Json::Array(_)) | (Json::Object(_), Json::Object(_))
    ) || (is_scalar(a) && is_scalar(b))
}

/// jsonb's key order: shorter keys first, then bytewise.
fn jsonb_key_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// A string as PostgreSQL's `escape_json` writes it.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON number as PostgreSQL's numeric writes it: the exponent applied
/// (`1e2` is `100`, `1.5e-1` is `0.15`), the scale of the digits kept
/// (`1.50` stays `1.50`), no negative zero.
pub fn numeric_text(written: &str) -> String {
    let (negative, unsigned) = match written.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, written),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = format!("{whole}{fraction}");
    let fraction_len = i64::try_from(fraction.len()).unwrap_or(0);
    // value = digits × 10^(exponent − fraction_len)
    let shift = exponent - fraction_len;
    let scale = usize::try_from((fraction_len - exponent).max(0)).unwrap_or(0);
    let mut digits = match usize::try_from(shift) {
        Ok(zeros) => format!("{digits}{}", "0".repeat(zeros)),
        Err(_) => digits,
    };
    if digits.len() <= scale {
        digits = format!("{}{digits}", "0".repeat(scale + 1 - digits.len()));
    }
    let (int_part, frac_part) = digits.split_at(digits.len() - scale);
    let int_part = int_part.trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let zero = int_part == "0" && frac_part.bytes().all(|b| b == b'0');
    let sign = if negative && !zero { "-" } else { "" };
    match frac_part.is_empty() {
        true => format!("{sign}{int_part}"),
        false => format!("{sign}{int_part}.{frac_part}"),
    }
}

/// A recursive-descent reader of RFC 8259 JSON, as PostgreSQL's json
/// input accepts it.
struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
}

/// PostgreSQL refuses json nested deeper than its stack allows; CairnDB
/// refuses past this depth, before its own stack would overflow.
const MAX_DEPTH: usize = 6400;

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.bytes.get(self.at).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn unexpected(&self) -> CairnError {
        match self.text.get(self.at..) {
            None | Some("") => invalid_json("The input string ended unexpectedly."),
            Some(rest) => {
                let token: String = match rest.chars().next() {
                    Some(c) if c.is_alphanumeric() => rest.chars().take_while(|c| c.is_alphanumeric()).collect(),
                    Some(c) => c.to_string(),
                    None => String::new(),
                };
                invalid_json(&format!("Token \"{token}\" is invalid."))
            }
        }
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        self.skip_space();
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(CairnError::StackDepthExceeded("stack depth limit exceeded".into()));
        }
        self.skip_space();
        let start = self.at;
        let value = match self.bytes.get(self.at) {
            Some(b'{') => {
                self.at += 1;
                let mut members = Vec::new();
                self.skip_space();
                if self.bytes.get(self.at) == Some(&b'}') {
                    self.at += 1;
                } else {
                    loop {
                        self.skip_space();
                        if self.bytes.get(self.at) != Some(&b'"') {
                            return Err(self.unexpected());
                        }
                        let key = self.string()?;
                        self.expect(b':')?;
                        members.push((key, self.value(depth + 1)?));
                        self.skip_space();
                        match self.bytes.get(self.at) {
                            Some(b',') => self.at += 1,
                            Some(b'}') => {
                                self.at += 1;
                                break;
                            }
                            _ => return Err(self.unexpected()),
                        }
                    }
                }
                Json::Object(members)
            }
            Some(b'[') => {
                self.at += 1;
                let mut elements = Vec::new();
                self.skip_space();
                if self.bytes.get(self.at) == Some(&b']') {
                    self.at += 1;
                } else {
                    loop {
                        elements.push(self.value(depth + 1)?);
                        self.skip_space();
                        match self.bytes.get(self.at) {
                            Some(b',') => self.at += 1,
                            Some(b']') => {
                                self.at += 1;
                                break;
                            }
                            _ => return Err(self.unexpected()),
                        }
                    }
                }
                Json::Array(elements)
            }
            Some(b'"') => Json::String(self.string()?),
            Some(b'-' | b'0'..=b'9') => Json::Number(self.number()?),
            Some(_) => {
                let word: String = self.text[self.at..].chars().take_while(|c| c.is_alphanumeric()).collect();
                let value = match word.as_str() {
                    "true" => Json::Bool(true),
                    "false" => Json::Bool(false),
                    "null" => Json::Null,
                    _ => return Err(self.unexpected()),
                };
                self.at += word.len();
                value
            }
            None => return Err(self.unexpected()),
        };
        Ok(Node { value, span: start..self.at })
    }

    fn number(&mut self) -> Result<String> {
        let start = self.at;
        let digits = |p: &mut Self| {
            let from = p.at;
            while p.bytes.get(p.at).is_some_and(u8::is_ascii_digit) {
                p.at += 1;
            }
            p.at > from
        };
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        let leading_zero = self.bytes.get(self.at) == Some(&b'0');
        if !digits(self) || (leading_zero && self.at - start > 1 + usize::from(self.bytes[start] == b'-')) {
            self.at = start;
            return Err(self.unexpected());
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if !digits(self) {
                self.at = start;
                return Err(self.unexpected());
            }
        }
        if matches!(self.bytes.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.bytes.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !digits(self) {
                self.at = start;
                return Err(self.unexpected());
            }
        }
        Ok(self.text[start..self.at].to_owned())
    }

    fn string(&mut self) -> Result<String> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        loop {
            let Some(rest) = self.text.get(self.at..) else { return Err(self.unexpected()) };
            let Some(c) = rest.chars().next() else {
                return Err(invalid_json("The input string ended unexpectedly."));
            };
            self.at += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let escaped = self.bytes.get(self.at).copied();
                    self.at += 1;
                    match escaped {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => out.push(self.unicode_escape()?),
                        _ => {
                            let shown = self.text.get(self.at - 2..self.at).unwrap_or("\\");
                            return Err(invalid_json(&format!("Escape sequence \"{shown}\" is invalid.")));
                        }
                    }
                }
                c if c < ' ' => {
                    return Err(invalid_json(&format!(
                        "Character with value 0x{:02x} must be escaped.",
                        u32::from(c)
                    )))
                }
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self.text.get(self.at..self.at + 4).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(digits) = digits else {
            return Err(invalid_json("\"\\u\" must be followed by four hexadecimal digits."));
        };
        self.at += 4;
        u32::from_str_radix(digits, 16).map_err(|_| invalid_json("\"\\u\" must be followed by four hexadecimal digits."))
    }

    fn unicode_escape(&mut self) -> Result<char> {
        let unit = self.hex4()?;
        let code = match unit {
            0xD800..=0xDBFF => {
                if self.text.get(self.at..self.at + 2) != Some("\\u") {
                    return Err(invalid_json("Unicode high surrogate must not follow a high surrogate."));
                }
                self.at += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(invalid_json("Unicode low surrogate must follow a high surrogate."));
                }
                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(invalid_json("Unicode low surrogate must follow a high surrogate.")),
            0 => return Err(CairnError::UnsupportedUnicodeEscape),
            code => code,
        };
        char::from_u32(code).ok_or_else(|| invalid_json("invalid Unicode escape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsonb(text: &str) -> String {
        Json::parse_jsonb(text).expect(text).jsonb_text()
    }

    #[test]
    fn jsonb_is_normalised_as_postgresql_normalises_it() {
        assert_eq!(jsonb(r#"{"b": 1, "a": 2}"#), r#"{"a": 2, "b": 1}"#);
        assert_eq!(jsonb(r#"{"aa": 1, "b": 2}"#), r#"{"b": 2, "aa": 1}"#);
        assert_eq!(jsonb(r#"{"a": 1, "a": 2}"#), r#"{"a": 2}"#);
        assert_eq!(jsonb("  {\"a\" :  [1,2]}  "), r#"{"a": [1, 2]}"#);
        assert_eq!(jsonb(r#""\u00e9\n""#), r#""é\n""#);
        assert_eq!(jsonb(r#""\ud83d\ude00""#), "\"😀\"");
    }

    #[test]
    fn numbers_are_written_as_numeric_writes_them() {
        for (written, numeric) in [
            ("1e2", "100"),
            ("1.0", "1.0"),
            ("1.50", "1.50"),
            ("-0", "0"),
            ("-0.0", "0.0"),
            ("1.5e1", "15"),
            ("1.50e1", "15.0"),
            ("1e-2", "0.01"),
            ("-12.5E-3", "-0.0125"),
            ("0", "0"),
            ("123", "123"),
        ] {
            assert_eq!(numeric_text(written), numeric, "{written}");
        }
    }

    #[test]
    fn malformed_text_is_22p02() {
        for bad in ["{bad", "[1, 2", "01", "1.", "-", "\"a", "{\"a\" 1}", "[1,]", "tru", "1 2", "\"\\x\""] {
            assert_eq!(Json::parse(bad).expect_err(bad).code().as_str(), "22P02", "{bad}");
        }
        assert_eq!(Json::parse("\"\\u0000\"").expect_err("nul").code().as_str(), "22P05");
    }

    #[test]
    fn parts_are_found_by_key_index_and_path() {
        let doc = Json::parse_jsonb(r#"{"a": {"b": [10, 20]}}"#).expect("doc");
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(doc.get_path(&path(&["a", "b", "1"])).map(|n| n.value.jsonb_text()), Some("20".into()));
        assert_eq!(doc.get_path(&path(&["a", "b", "-1"])).map(|n| n.value.jsonb_text()), Some("20".into()));
        assert!(doc.get_path(&path(&["a", "x"])).is_none());
        let json = Json::parse(r#"{"a":  [1,  2]}"#).expect("json");
        let found = json.value.get(&Step::Key("a".into())).expect("a");
        assert_eq!(&r#"{"a":  [1,  2]}"#[found.span.clone()], "[1,  2]");
    }

    #[test]
    fn containment_and_edits_follow_postgresql() {
        let doc = |t: &str| Json::parse_jsonb(t).expect(t);
        assert!(doc(r#"{"a": 1, "b": [1, 2, 3]}"#).contains(&doc(r#"{"b": [3, 1]}"#)));
        assert!(!doc(r#"{"a": 1}"#).contains(&doc(r#"{"a": 2}"#)));
        assert!(doc("[1, 2]").contains(&doc("1")));
        assert!(!doc("[[1, 2]]").contains(&doc("1")));
        assert_eq!(doc(r#"{"a": 1}"#).concat(doc(r#"{"a": 2, "b": 3}"#)).jsonb_text(), r#"{"a": 2, "b": 3}"#);
        assert_eq!(doc("[1, 2, 3]").remove_index(1).expect("removed").jsonb_text(), "[1, 3]");
        let path = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(doc(r#"{"a": {"b": 1}}"#).remove_path(&path).jsonb_text(), r#"{"a": {}}"#);
        let set = doc(r#"{"a": 1}"#).set_path(&["b".to_owned()], doc("[3]"), SetMode::ReplaceOrCreate);
        assert_eq!(set.jsonb_text(), r#"{"a": 1, "b": [3]}"#);
        let inserted = doc("[1, 2]").set_path(&["1".to_owned()], doc("9"), SetMode::InsertBefore);
        assert_eq!(inserted.jsonb_text(), "[1, 9, 2]");
        assert_eq!(doc(r#"{"a": null, "b": 1}"#).strip_nulls().jsonb_text(), r#"{"b": 1}"#);
    }
}
