//! A JSON parser for the dialect of Python's `json.loads`, plus the body charset
//! decoding that precedes it (`api.md` §1.4).
//!
//! Why not `serde_json`? Ichnaea clients are written against a Python server, so the
//! wire contract is whatever `json.loads` accepts, and error bodies quote Python's exact
//! messages:
//!
//! * the bare literals `NaN`, `Infinity` and `-Infinity` are accepted (clients and the
//!   reference tests send them);
//! * integers are arbitrarily large and stay exact (`i128`, else the decimal text);
//!   integer and float literals stay distinguishable, because the schemas convert
//!   them differently (`int(12.7)` truncates, `int("12.7")` fails);
//! * duplicate keys are allowed, the last value wins and keeps the position of the
//!   first occurrence (a Python `dict` assignment);
//! * errors reproduce CPython's C scanner: same message, same 1-based line/column and
//!   0-based *character* offset, e.g. `Expecting value: line 1 column 1 (char 0)`, and
//!   the `repr()` used in `details.decode`.
//!
//! The validation messages of the schemas interpolate Python's `str()` of the offending
//! value (`"[1]" is not a mapping type…`), so [`JsonValue::py_str`] and
//! [`JsonValue::py_repr`] render values exactly as Python would.
//!
//! Gzip decoding stays in the HTTP layer; this module starts from the decompressed bytes.
//!
//! Deviations, all in unreachable-in-practice corners: a lone UTF-16 surrogate escape
//! (`"\ud800"`) becomes U+FFFD because Rust strings cannot hold it; nesting deeper than
//! [`MAX_DEPTH`] fails with a `RecursionError` text (Python's limit depends on its stack);
//! the "printable" test of `repr()` knows the common non-printable code points only.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Deepest nesting of arrays and objects accepted. CPython raises `RecursionError`
/// somewhat below its recursion limit of 1000 (the reference then answers 500); we stop
/// at a fixed depth that keeps the recursive parser well within a worker's stack, and
/// report it like a decoding error. No real client nests deeper than a few levels.
pub const MAX_DEPTH: usize = 512;

/// Objects with up to this many keys find duplicate keys by a linear scan; larger ones
/// build a hash index.
const LINEAR_KEYS: usize = 16;

/// CPython's default limit on the digits of an integer literal
/// (`sys.get_int_max_str_digits()`).
pub const MAX_INT_DIGITS: usize = 4300;

/// A parsed JSON value, as `json.loads` would build it.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    /// `null` (Python `None`).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer literal that fits in an `i128`.
    Int(i128),
    /// An integer literal too large for `i128`, as its decimal text (sign included).
    BigInt(String),
    /// A literal with a fraction or an exponent, or `NaN` / `Infinity` / `-Infinity`.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object.
    Object(JsonObject),
}

/// A JSON object: unique keys in the order of their first occurrence; for a duplicated
/// key the last value wins, like a Python `dict` built by `json.loads`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonObject {
    entries: Vec<(String, JsonValue)>,
}

impl JsonObject {
    /// An empty object.
    pub fn new() -> JsonObject {
        JsonObject::default()
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key`: replaces the value in place if the key exists, else appends.
    pub fn insert(&mut self, key: impl Into<String>, value: JsonValue) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &JsonValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the object has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl JsonValue {
    /// Python truthiness: `None`, `False`, `0`, `0.0`, `""`, `[]` and `{}` are false.
    pub fn is_truthy(&self) -> bool {
        match self {
            JsonValue::Null => false,
            JsonValue::Bool(b) => *b,
            JsonValue::Int(i) => *i != 0,
            JsonValue::BigInt(_) => true,
            JsonValue::Float(f) => *f != 0.0,
            JsonValue::Str(s) => !s.is_empty(),
            JsonValue::Array(a) => !a.is_empty(),
            JsonValue::Object(o) => !o.is_empty(),
        }
    }

    /// Python's `value == 0` (true for `0`, `0.0`, `-0.0` and `False`).
    pub fn equals_zero(&self) -> bool {
        match self {
            JsonValue::Bool(b) => !*b,
            JsonValue::Int(i) => *i == 0,
            JsonValue::Float(f) => *f == 0.0,
            _ => false,
        }
    }

    /// Python's `str(value)`: a string is itself, everything else is its `repr()`.
    pub fn py_str(&self) -> String {
        match self {
            JsonValue::Str(s) => s.clone(),
            other => other.py_repr(),
        }
    }

    /// Python's `repr(value)` of the object `json.loads` built, e.g.
    /// `{'lat': 51.5, 'cell': [], 'ok': True, 'x': None}`.
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            JsonValue::Null => out.push_str("None"),
            JsonValue::Bool(true) => out.push_str("True"),
            JsonValue::Bool(false) => out.push_str("False"),
            JsonValue::Int(i) => out.push_str(&i.to_string()),
            JsonValue::BigInt(text) => out.push_str(text),
            JsonValue::Float(f) => out.push_str(&py_float_repr(*f)),
            JsonValue::Str(s) => out.push_str(&py_repr_str(s)),
            JsonValue::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_repr(out);
                }
                out.push(']');
            }
            JsonValue::Object(obj) => {
                out.push('{');
                for (i, (key, value)) in obj.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&py_repr_str(key));
                    out.push_str(": ");
                    value.write_repr(out);
                }
                out.push('}');
            }
        }
    }
}

/// Python's `repr()` of a float: the shortest round-tripping digits, fixed notation for
/// decimal exponents in [-4, 16), scientific (`1e+16`, `1e-05`) otherwise, and `nan`,
/// `inf`, `-inf`.
pub fn py_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // `{:e}` gives the shortest round-trip digits, e.g. "-1.2345e-7" or "0e0".
    let sci = format!("{value:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // value = 0.DIGITS * 10^decpt
    let decpt = exp + 1;
    let mut out = String::from(sign);
    if (-4 < decpt) && (decpt <= 16) {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in 0..(-decpt) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let decpt = decpt as usize;
            if digits.len() <= decpt {
                out.push_str(&digits);
                for _ in digits.len()..decpt {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..decpt]);
                out.push('.');
                out.push_str(&digits[decpt..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", e.unsigned_abs()));
    }
    out
}

/// Python's `repr()` of a string: single quotes unless the text contains a single quote
/// and no double quote; backslash escapes for the quote, `\\`, `\t`, `\n`, `\r` and for
/// non-printable characters (`\x..`, `\u....`, `\U........`).
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for ch in s.chars() {
        match ch {
            c if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_py_printable(c) => out.push(c),
            c => {
                let code = u32::from(c);
                if code <= 0xff {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code <= 0xffff {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// Approximates Python's `str.isprintable()` for one character: control characters,
/// separators other than the ASCII space, the common format characters, private-use
/// code points, non-characters and the unassigned planes are not printable (scattered
/// unassigned code points inside assigned blocks are treated as printable).
fn is_py_printable(c: char) -> bool {
    let code = u32::from(c);
    !matches!(code,
        0x00..=0x1f | 0x7f..=0xa0 | 0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x8e2 | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 | 0xd800..=0xf8ff | 0xfdd0..=0xfdef | 0xfeff | 0xfff9..=0xfffb
        | 0xfffe | 0xffff | 0x110bd | 0x110cd | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        | 0x3134b..=0xdffff | 0xe0000..=0xe00ff | 0xe01f0..)
}

/// Why `json.loads` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// A `json.JSONDecodeError`.
    Decode {
        /// The message without position, e.g. `Expecting value`.
        msg: &'static str,
        /// 0-based character offset.
        pos: usize,
        /// 1-based line.
        lineno: usize,
        /// 1-based column.
        colno: usize,
    },
    /// The `ValueError` of an integer literal longer than [`MAX_INT_DIGITS`] digits.
    IntTooLong {
        /// Number of digits of the literal.
        digits: usize,
    },
    /// The `RecursionError` of nesting deeper than [`MAX_DEPTH`].
    TooDeep {
        /// `object` or `array`.
        container: &'static str,
    },
}

impl JsonError {
    fn decode(msg: &'static str, text: &str, byte_pos: usize) -> JsonError {
        let prefix = &text[..byte_pos.min(text.len())];
        let pos = prefix.chars().count();
        let lineno = prefix.matches('\n').count() + 1;
        let colno = match prefix.rfind('\n') {
            Some(nl) => prefix[nl..].chars().count(),
            None => pos + 1,
        };
        JsonError::Decode {
            msg,
            pos,
            lineno,
            colno,
        }
    }

    /// The Python exception class name.
    pub fn class_name(&self) -> &'static str {
        match self {
            JsonError::Decode { .. } => "JSONDecodeError",
            JsonError::IntTooLong { .. } => "ValueError",
            JsonError::TooDeep { .. } => "RecursionError",
        }
    }

    /// Python's `repr(exc)`, the text of `details.decode`, e.g.
    /// `JSONDecodeError('Expecting value: line 1 column 1 (char 0)')`.
    pub fn repr(&self) -> String {
        format!("{}({})", self.class_name(), py_repr_str(&self.to_string()))
    }
}

impl fmt::Display for JsonError {
    /// Python's `str(exc)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Decode {
                msg,
                pos,
                lineno,
                colno,
            } => write!(f, "{msg}: line {lineno} column {colno} (char {pos})"),
            JsonError::IntTooLong { digits } => write!(
                f,
                "Exceeds the limit ({MAX_INT_DIGITS} digits) for integer string conversion: value has \
                 {digits} digits; use sys.set_int_max_str_digits() to increase the limit"
            ),
            JsonError::TooDeep { container } => write!(
                f,
                "maximum recursion depth exceeded while decoding a JSON {container} from a \
                 unicode string"
            ),
        }
    }
}

impl std::error::Error for JsonError {}

/// Parses `text` like Python's `json.loads(text)`.
pub fn parse(text: &str) -> Result<JsonValue, JsonError> {
    if text.starts_with('\u{feff}') {
        return Err(JsonError::decode(
            "Unexpected UTF-8 BOM (decode using utf-8-sig)",
            text,
            0,
        ));
    }
    let parser = Parser {
        text,
        b: text.as_bytes(),
    };
    let start = parser.skip_ws(0);
    let (value, end) = parser.scan_once(start, 0).map_err(|f| parser.error(f))?;
    let end = parser.skip_ws(end);
    if end != parser.b.len() {
        return Err(JsonError::decode("Extra data", text, end));
    }
    Ok(value)
}

/// An internal failure: `Stop` is CPython's `StopIteration(idx)`, reported as
/// "Expecting value" at that index.
enum Fail {
    Stop(usize),
    Msg(&'static str, usize),
    IntTooLong(usize),
    TooDeep(&'static str),
}

struct Parser<'a> {
    text: &'a str,
    b: &'a [u8],
}

type Step<T> = Result<(T, usize), Fail>;

impl Parser<'_> {
    fn error(&self, fail: Fail) -> JsonError {
        match fail {
            Fail::Stop(pos) => JsonError::decode("Expecting value", self.text, pos),
            Fail::Msg(msg, pos) => JsonError::decode(msg, self.text, pos),
            Fail::IntTooLong(digits) => JsonError::IntTooLong { digits },
            Fail::TooDeep(container) => JsonError::TooDeep { container },
        }
    }

    fn skip_ws(&self, mut idx: usize) -> usize {
        while idx < self.b.len() && matches!(self.b[idx], b' ' | b'\t' | b'\n' | b'\r') {
            idx += 1;
        }
        idx
    }

    fn starts_with(&self, idx: usize, lit: &str) -> bool {
        self.b[idx..].starts_with(lit.as_bytes())
    }

    fn scan_once(&self, idx: usize, depth: usize) -> Step<JsonValue> {
        let Some(&c) = self.b.get(idx) else {
            return Err(Fail::Stop(idx));
        };
        match c {
            b'"' => {
                let (s, end) = self.scan_string(idx + 1)?;
                return Ok((JsonValue::Str(s), end));
            }
            b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(Fail::TooDeep("object"));
                }
                return self.parse_object(idx + 1, depth + 1);
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(Fail::TooDeep("array"));
                }
                return self.parse_array(idx + 1, depth + 1);
            }
            b'n' if self.starts_with(idx, "null") => return Ok((JsonValue::Null, idx + 4)),
            b't' if self.starts_with(idx, "true") => return Ok((JsonValue::Bool(true), idx + 4)),
            b'f' if self.starts_with(idx, "false") => {
                return Ok((JsonValue::Bool(false), idx + 5));
            }
            b'N' if self.starts_with(idx, "NaN") => {
                return Ok((JsonValue::Float(f64::NAN), idx + 3));
            }
            b'I' if self.starts_with(idx, "Infinity") => {
                return Ok((JsonValue::Float(f64::INFINITY), idx + 8));
            }
            b'-' if self.starts_with(idx, "-Infinity") => {
                return Ok((JsonValue::Float(f64::NEG_INFINITY), idx + 9));
            }
            _ => {}
        }
        self.match_number(idx)
    }

    fn is_digit(&self, idx: usize) -> bool {
        self.b.get(idx).is_some_and(u8::is_ascii_digit)
    }

    fn match_number(&self, start: usize) -> Step<JsonValue> {
        let len = self.b.len();
        let mut idx = start;
        if self.b[idx] == b'-' {
            idx += 1;
            if idx >= len {
                return Err(Fail::Stop(start));
            }
        }
        match self.b[idx] {
            b'1'..=b'9' => {
                idx += 1;
                while self.is_digit(idx) {
                    idx += 1;
                }
            }
            b'0' => idx += 1,
            _ => return Err(Fail::Stop(start)),
        }
        let mut is_float = false;
        if idx + 1 < len && self.b[idx] == b'.' && self.is_digit(idx + 1) {
            is_float = true;
            idx += 2;
            while self.is_digit(idx) {
                idx += 1;
            }
        }
        if idx + 1 < len && matches!(self.b[idx], b'e' | b'E') {
            let e_start = idx;
            idx += 1;
            if idx + 1 < len && matches!(self.b[idx], b'-' | b'+') {
                idx += 1;
            }
            while self.is_digit(idx) {
                idx += 1;
            }
            if self.b[idx - 1].is_ascii_digit() {
                is_float = true;
            } else {
                idx = e_start;
            }
        }
        let literal = &self.text[start..idx];
        if is_float {
            let value: f64 = literal.parse().map_err(|_| Fail::Stop(start))?;
            return Ok((JsonValue::Float(value), idx));
        }
        let digits = literal.trim_start_matches('-').len();
        if digits > MAX_INT_DIGITS {
            return Err(Fail::IntTooLong(digits));
        }
        let value = match literal.parse::<i128>() {
            Ok(i) => JsonValue::Int(i),
            Err(_) => JsonValue::BigInt(literal.to_owned()),
        };
        Ok((value, idx))
    }

    /// Scans a string whose opening quote is at `end - 1`.
    fn scan_string(&self, mut end: usize) -> Step<String> {
        let len = self.b.len();
        let begin = end - 1;
        let mut out = String::new();
        loop {
            let mut next = end;
            while next < len {
                let c = self.b[next];
                if c == b'"' || c == b'\\' {
                    break;
                }
                if c <= 0x1f {
                    return Err(Fail::Msg("Invalid control character at", next));
                }
                next += 1;
            }
            if next >= len {
                return Err(Fail::Msg("Unterminated string starting at", begin));
            }
            out.push_str(&self.text[end..next]);
            if self.b[next] == b'"' {
                return Ok((out, next + 1));
            }
            // A backslash escape.
            next += 1;
            if next == len {
                return Err(Fail::Msg("Unterminated string starting at", begin));
            }
            let c = self.b[next];
            if c != b'u' {
                end = next + 1;
                let ch = match c {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    _ => return Err(Fail::Msg("Invalid \\escape", end - 2)),
                };
                out.push(ch);
                continue;
            }
            next += 1;
            end = next + 4;
            if end >= len {
                return Err(Fail::Msg("Invalid \\uXXXX escape", next - 1));
            }
            let mut code = self
                .hex4(next)
                .ok_or(Fail::Msg("Invalid \\uXXXX escape", end - 5))?;
            if (0xd800..=0xdbff).contains(&code)
                && end + 6 < len
                && self.b[end] == b'\\'
                && self.b[end + 1] == b'u'
            {
                let low = self
                    .hex4(end + 2)
                    .ok_or(Fail::Msg("Invalid \\uXXXX escape", end + 1))?;
                if (0xdc00..=0xdfff).contains(&low) {
                    code = 0x10000 + (((code - 0xd800) << 10) | (low - 0xdc00));
                    end += 6;
                }
            }
            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.b.get(at..at + 4)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            let v = char::from(d).to_digit(16)?;
            Some((acc << 4) | v)
        })
    }

    fn parse_object(&self, mut idx: usize, depth: usize) -> Step<JsonValue> {
        let len = self.b.len();
        let mut entries: Vec<(String, JsonValue)> = Vec::new();
        // Duplicate keys are found by a linear scan while the object is small (every
        // object of a real request), through a hash index once it grows past
        // `LINEAR_KEYS`, so that an object of many keys stays linear to parse.
        let mut index: Option<HashMap<String, usize>> = None;
        idx = self.skip_ws(idx);
        if idx >= len || self.b[idx] != b'}' {
            loop {
                if idx >= len || self.b[idx] != b'"' {
                    return Err(Fail::Msg(
                        "Expecting property name enclosed in double quotes",
                        idx,
                    ));
                }
                let (key, next) = self.scan_string(idx + 1)?;
                idx = self.skip_ws(next);
                if idx >= len || self.b[idx] != b':' {
                    return Err(Fail::Msg("Expecting ':' delimiter", idx));
                }
                idx = self.skip_ws(idx + 1);
                let (value, next) = self.scan_once(idx, depth)?;
                let existing = match &index {
                    Some(index) => index.get(&key).copied(),
                    None => entries.iter().position(|(k, _)| *k == key),
                };
                match existing {
                    Some(at) => entries[at].1 = value,
                    None => {
                        if let Some(index) = &mut index {
                            index.insert(key.clone(), entries.len());
                        } else if entries.len() >= LINEAR_KEYS {
                            let mut built: HashMap<String, usize> = entries
                                .iter()
                                .enumerate()
                                .map(|(at, (k, _))| (k.clone(), at))
                                .collect();
                            built.insert(key.clone(), entries.len());
                            index = Some(built);
                        }
                        entries.push((key, value));
                    }
                }
                idx = self.skip_ws(next);
                if idx < len && self.b[idx] == b'}' {
                    break;
                }
                if idx >= len || self.b[idx] != b',' {
                    return Err(Fail::Msg("Expecting ',' delimiter", idx));
                }
                idx = self.skip_ws(idx + 1);
            }
        }
        Ok((JsonValue::Object(JsonObject { entries }), idx + 1))
    }

    fn parse_array(&self, mut idx: usize, depth: usize) -> Step<JsonValue> {
        let len = self.b.len();
        let mut items = Vec::new();
        idx = self.skip_ws(idx);
        if idx >= len || self.b[idx] != b']' {
            loop {
                let (value, next) = self.scan_once(idx, depth)?;
                items.push(value);
                idx = self.skip_ws(next);
                if idx < len && self.b[idx] == b']' {
                    break;
                }
                if idx >= len || self.b[idx] != b',' {
                    return Err(Fail::Msg("Expecting ',' delimiter", idx));
                }
                idx = self.skip_ws(idx + 1);
            }
        }
        Ok((JsonValue::Array(items), idx + 1))
    }
}

/// Why the body bytes could not be turned into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CharsetError {
    /// The charset is unknown to us (Python raises `LookupError`, which the reference
    /// does not catch: a 500).
    Unknown(String),
    /// The bytes are invalid in the charset; the text is Python's
    /// `str(UnicodeDecodeError)`, used verbatim as `details.decode`.
    Decode(String),
}

impl fmt::Display for CharsetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CharsetError::Unknown(name) => write!(f, "unknown encoding: {name}"),
            CharsetError::Decode(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for CharsetError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Utf8,
    Utf8Sig,
    Latin1,
    Ascii,
    Cp1252,
}

/// Python's `encodings.normalize_encoding` after lowercasing: runs of characters other
/// than ASCII letters, digits and `.` become one `_`, leading/trailing ones vanish.
fn normalize_encoding(name: &str) -> String {
    let mut out = String::new();
    let mut punct = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            if punct && !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            punct = false;
        } else {
            punct = true;
        }
    }
    out
}

fn lookup_codec(name: &str) -> Option<Codec> {
    let norm = normalize_encoding(name);
    let find = |n: &str| -> Option<Codec> {
        Some(match n {
            "utf_8" | "utf8" | "u8" | "utf" | "utf8_ucs2" | "utf8_ucs4" | "cp65001" => Codec::Utf8,
            "utf_8_sig" | "utf8_sig" => Codec::Utf8Sig,
            "latin_1" | "latin1" | "latin" | "l1" | "8859" | "cp819" | "csisolatin1" | "ibm819"
            | "iso8859" | "iso8859_1" | "iso_8859_1" | "iso_8859_1_1987" | "iso_ir_100" => {
                Codec::Latin1
            }
            "ascii" | "646" | "ansi_x3.4_1968" | "ansi_x3_4_1968" | "ansi_x3.4_1986"
            | "ansi_x3_4_1986" | "cp367" | "csascii" | "ibm367" | "iso646_us"
            | "iso_646.irv_1991" | "iso_646_irv_1991" | "iso_ir_6" | "us" | "us_ascii" => {
                Codec::Ascii
            }
            "cp1252" | "windows_1252" | "1252" => Codec::Cp1252,
            _ => return None,
        })
    };
    find(&norm).or_else(|| find(&norm.replace('.', "_")))
}

/// The characters of windows-1252 for bytes 0x80..=0x9f; `None` marks undefined bytes.
const CP1252_HIGH: [Option<char>; 32] = [
    Some('\u{20ac}'),
    None,
    Some('\u{201a}'),
    Some('\u{0192}'),
    Some('\u{201e}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{02c6}'),
    Some('\u{2030}'),
    Some('\u{0160}'),
    Some('\u{2039}'),
    Some('\u{0152}'),
    None,
    Some('\u{017d}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201c}'),
    Some('\u{201d}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{02dc}'),
    Some('\u{2122}'),
    Some('\u{0161}'),
    Some('\u{203a}'),
    Some('\u{0153}'),
    None,
    Some('\u{017e}'),
    Some('\u{0178}'),
];

fn decode_error(codec: &str, bytes: &[u8], start: usize, end: usize, reason: &str) -> String {
    if end == start + 1 {
        format!(
            "'{codec}' codec can't decode byte 0x{:02x} in position {start}: {reason}",
            bytes[start]
        )
    } else {
        format!(
            "'{codec}' codec can't decode bytes in position {start}-{}: {reason}",
            end - 1
        )
    }
}

fn decode_utf8(bytes: &[u8]) -> Result<Cow<'_, str>, CharsetError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(err) => {
            let start = err.valid_up_to();
            let (end, reason) = match err.error_len() {
                None => (bytes.len(), "unexpected end of data"),
                Some(n) => {
                    // Rust and CPython both report the maximal invalid subpart; a lone
                    // byte that cannot start a sequence is an "invalid start byte".
                    let lead = bytes[start];
                    let invalid_start = n == 1 && !(0xc2..=0xf4).contains(&lead);
                    let reason = if invalid_start {
                        "invalid start byte"
                    } else {
                        "invalid continuation byte"
                    };
                    (start + n, reason)
                }
            };
            Err(CharsetError::Decode(decode_error(
                "utf-8", bytes, start, end, reason,
            )))
        }
    }
}

/// Decodes the request body with the `charset` of its `Content-Type`, like Python's
/// `bytes.decode(charset)`; no charset means UTF-8. Supports the UTF-8, UTF-8-SIG,
/// Latin-1, ASCII and windows-1252 codecs under all their Python names. Error texts are
/// Python's, e.g. `'utf-8' codec can't decode byte 0xe9 in position 14: invalid
/// continuation byte`.
pub fn decode_charset<'a>(
    bytes: &'a [u8],
    charset: Option<&str>,
) -> Result<Cow<'a, str>, CharsetError> {
    let codec = match charset {
        None => Codec::Utf8,
        Some(name) => lookup_codec(name).ok_or_else(|| CharsetError::Unknown(name.to_owned()))?,
    };
    match codec {
        Codec::Utf8 => decode_utf8(bytes),
        // Python names the codec 'utf-8' and counts positions after the BOM.
        Codec::Utf8Sig => decode_utf8(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)),
        Codec::Latin1 => Ok(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())),
        Codec::Ascii => match bytes.iter().position(|b| !b.is_ascii()) {
            None => Ok(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())),
            Some(pos) => Err(CharsetError::Decode(decode_error(
                "ascii",
                bytes,
                pos,
                pos + 1,
                "ordinal not in range(128)",
            ))),
        },
        Codec::Cp1252 => {
            let mut out = String::with_capacity(bytes.len());
            for (pos, &b) in bytes.iter().enumerate() {
                let ch = if (0x80..0xa0).contains(&b) {
                    CP1252_HIGH[usize::from(b - 0x80)]
                } else {
                    Some(char::from(b))
                };
                match ch {
                    Some(c) => out.push(c),
                    None => {
                        return Err(CharsetError::Decode(decode_error(
                            "charmap",
                            bytes,
                            pos,
                            pos + 1,
                            "character maps to <undefined>",
                        )));
                    }
                }
            }
            Ok(Cow::Owned(out))
        }
    }
}

/// Why a request body could not be read as JSON (`api.md` §1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Unknown charset: the reference answers 500.
    UnknownCharset(String),
    /// Undecodable bytes: 400 `parseError` with `details.decode` = [`BodyError::detail`].
    Decode(String),
    /// Invalid JSON: 400 `parseError` with `details.decode` = [`BodyError::detail`].
    Json(JsonError),
}

impl BodyError {
    /// The `details.decode` text of the 400 answer, or `None` for an unknown charset.
    pub fn detail(&self) -> Option<String> {
        match self {
            BodyError::UnknownCharset(_) => None,
            BodyError::Decode(text) => Some(text.clone()),
            BodyError::Json(err) => Some(err.repr()),
        }
    }
}

/// Decodes and parses a (decompressed) request body. `Ok(None)` means the decoded body
/// is empty, which the reference treats as `{}` but remembers as "empty" (§1.3 step 8,
/// §5.1). A whitespace-only body is not empty: it fails with "Expecting value".
pub fn parse_body(bytes: &[u8], charset: Option<&str>) -> Result<Option<JsonValue>, BodyError> {
    let text = decode_charset(bytes, charset).map_err(|e| match e {
        CharsetError::Unknown(name) => BodyError::UnknownCharset(name),
        CharsetError::Decode(text) => BodyError::Decode(text),
    })?;
    if text.is_empty() {
        return Ok(None);
    }
    parse(&text).map(Some).map_err(BodyError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn python_dialect_literals_and_numbers() {
        let v = parse(r#"{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1.5e3, "e": -0}"#).unwrap();
        let JsonValue::Object(obj) = v else {
            panic!("not an object")
        };
        assert!(matches!(obj.get("a"), Some(JsonValue::Float(f)) if f.is_nan()));
        assert_eq!(obj.get("b"), Some(&JsonValue::Float(f64::INFINITY)));
        assert_eq!(obj.get("c"), Some(&JsonValue::Float(f64::NEG_INFINITY)));
        assert_eq!(obj.get("d"), Some(&JsonValue::Float(1500.0)));
        assert_eq!(obj.get("e"), Some(&JsonValue::Int(0)));
        assert_eq!(parse("12").unwrap(), JsonValue::Int(12));
        assert_eq!(parse("12.0").unwrap(), JsonValue::Float(12.0));
        assert_eq!(parse("1E2").unwrap(), JsonValue::Float(100.0));
        assert_eq!(parse("1e400").unwrap(), JsonValue::Float(f64::INFINITY));
    }

    #[test]
    fn big_integers_stay_exact() {
        assert_eq!(
            parse("170141183460469231731687303715884105727").unwrap(),
            JsonValue::Int(i128::MAX)
        );
        let big = "123456789012345678901234567890123456789012345678901234567890";
        assert_eq!(parse(big).unwrap(), JsonValue::BigInt(big.to_owned()));
        assert_eq!(
            parse(&format!("-{big}")).unwrap().py_repr(),
            format!("-{big}")
        );
        let too_long = "9".repeat(4301);
        let e = parse(&too_long).unwrap_err();
        assert_eq!(
            e.repr(),
            "ValueError('Exceeds the limit (4300 digits) for integer string conversion: value has \
             4301 digits; use sys.set_int_max_str_digits() to increase the limit')"
        );
        assert!(parse(&"9".repeat(4300)).is_ok());
    }

    #[test]
    fn duplicate_keys_last_wins_first_position() {
        let v = parse(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert_eq!(v.py_repr(), "{'a': 3, 'b': 2}");
    }

    #[test]
    fn duplicate_keys_in_large_objects() {
        // Past LINEAR_KEYS the duplicates are found through the hash index; a duplicate
        // of a key seen before the index was built, and one seen after, both replace.
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        let text = format!(
            r#"{{{}, "k3": "x", "k30": "y", "k39": "z"}}"#,
            keys.join(", ")
        );
        let JsonValue::Object(obj) = parse(&text).unwrap() else {
            panic!("not an object");
        };
        assert_eq!(obj.len(), 40);
        assert_eq!(obj.get("k3"), Some(&JsonValue::Str("x".into())));
        assert_eq!(obj.get("k30"), Some(&JsonValue::Str("y".into())));
        assert_eq!(obj.get("k39"), Some(&JsonValue::Str("z".into())));
        assert_eq!(
            obj.iter().nth(3).map(|(k, _)| k),
            Some("k3"),
            "first position kept"
        );
        assert_eq!(obj.get("k4"), Some(&JsonValue::Int(4)));
    }

    #[test]
    fn error_messages_match_python() {
        assert_eq!(err(""), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(err("   "), "Expecting value: line 1 column 4 (char 3)");
        assert_eq!(err("\u{ae}"), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(
            err("{'a': 1}"),
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
        );
        assert_eq!(
            err("{\"a\": 1}garbage"),
            "Extra data: line 1 column 9 (char 8)"
        );
        assert_eq!(err("[1, 2] x"), "Extra data: line 1 column 8 (char 7)");
        assert_eq!(
            err("{\"a\" 1}"),
            "Expecting ':' delimiter: line 1 column 6 (char 5)"
        );
        assert_eq!(
            err("{\"a\": \"xyz"),
            "Unterminated string starting at: line 1 column 7 (char 6)"
        );
        assert_eq!(
            err("{\"a\": 1 \"b\""),
            "Expecting ',' delimiter: line 1 column 9 (char 8)"
        );
        assert_eq!(
            err("[1 2]"),
            "Expecting ',' delimiter: line 1 column 4 (char 3)"
        );
        assert_eq!(
            err("[\"a\tb\"]"),
            "Invalid control character at: line 1 column 4 (char 3)"
        );
        assert_eq!(
            err("{\"a\": }"),
            "Expecting value: line 1 column 7 (char 6)"
        );
        assert_eq!(err("[1,]"), "Expecting value: line 1 column 4 (char 3)");
        assert_eq!(
            err("{\"a\": 1,}"),
            "Expecting property name enclosed in double quotes: line 1 column 9 (char 8)"
        );
        assert_eq!(err("["), "Expecting value: line 1 column 2 (char 1)");
        assert_eq!(
            err("{"),
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
        );
        assert_eq!(err("\"\\x\""), "Invalid \\escape: line 1 column 2 (char 1)");
        assert_eq!(
            err("\"\\u12G4\""),
            "Invalid \\uXXXX escape: line 1 column 3 (char 2)"
        );
        assert_eq!(err("Nan"), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(err("-"), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(err("01"), "Extra data: line 1 column 2 (char 1)");
        assert_eq!(err("1e+"), "Extra data: line 1 column 2 (char 1)");
        assert_eq!(
            err("\u{feff}{}"),
            "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"
        );
    }

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(
            err("{\n  \"é\": 1,\n  x}"),
            "Expecting property name enclosed in double quotes: line 3 column 3 (char 14)"
        );
        assert_eq!(
            err("[\"ééé\" 1]"),
            "Expecting ',' delimiter: line 1 column 8 (char 7)"
        );
    }

    #[test]
    fn repr_quotes_like_python() {
        let e = parse("").unwrap_err();
        assert_eq!(
            e.repr(),
            "JSONDecodeError('Expecting value: line 1 column 1 (char 0)')"
        );
        let e = parse("{\"a\" 1}").unwrap_err();
        assert_eq!(
            e.repr(),
            "JSONDecodeError(\"Expecting ':' delimiter: line 1 column 6 (char 5)\")"
        );
        assert_eq!(py_repr_str("it's \"x\""), "'it\\'s \"x\"'");
        assert_eq!(
            py_repr_str("a\\b\n\u{1}\u{e9}\u{a0}"),
            "'a\\\\b\\n\\x01\u{e9}\\xa0'"
        );
        assert_eq!(py_repr_str("\u{2028}\u{1F600}"), "'\\u2028\u{1F600}'");
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            parse(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#).unwrap(),
            JsonValue::Str("a\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{1F600}".to_owned())
        );
        assert_eq!(
            parse(r#""\ud800x""#).unwrap(),
            JsonValue::Str("\u{fffd}x".to_owned())
        );
    }

    #[test]
    fn python_str_and_repr_of_values() {
        let v = parse(r#"[{"lat": 51.5, "lon": -0.1, "cell": []}]"#).unwrap();
        assert_eq!(v.py_str(), "[{'lat': 51.5, 'lon': -0.1, 'cell': []}]");
        assert_eq!(parse("[1]").unwrap().py_str(), "[1]");
        assert_eq!(parse("null").unwrap().py_str(), "None");
        assert_eq!(parse("true").unwrap().py_str(), "True");
        assert_eq!(parse("\"ab\"").unwrap().py_str(), "ab");
        assert_eq!(
            parse(r#"{"macAddress": "ab"}"#).unwrap().py_str(),
            "{'macAddress': 'ab'}"
        );
    }

    #[test]
    fn float_repr_matches_python() {
        for (value, text) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (51.5, "51.5"),
            (-0.1, "-0.1"),
            (40000.0, "40000.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.2345e-7, "1.2345e-07"),
            (1e100, "1e+100"),
            (123456789.123, "123456789.123"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(py_float_repr(value), text, "{value}");
        }
    }

    #[test]
    fn truthiness() {
        for text in ["null", "false", "0", "0.0", "\"\"", "[]", "{}"] {
            assert!(!parse(text).unwrap().is_truthy(), "{text}");
        }
        for text in ["true", "1", "0.5", "\"0\"", "[0]", "{\"a\":0}", "NaN"] {
            assert!(parse(text).unwrap().is_truthy(), "{text}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(
            parse(&deep).unwrap_err().repr(),
            "RecursionError('maximum recursion depth exceeded while decoding a JSON array \
             from a unicode string')"
        );
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn utf8_errors_match_python() {
        let body = b"{\"comment\": \"R\xe9sum\xe9 from 1990\", \"items\": []}";
        assert_eq!(
            decode_charset(body, Some("utf-8")).unwrap_err().to_string(),
            "'utf-8' codec can't decode byte 0xe9 in position 14: invalid continuation byte"
        );
        assert_eq!(
            decode_charset(b"ab\x80", None).unwrap_err().to_string(),
            "'utf-8' codec can't decode byte 0x80 in position 2: invalid start byte"
        );
        assert_eq!(
            decode_charset(b"a\xe2\x82", Some("UTF8"))
                .unwrap_err()
                .to_string(),
            "'utf-8' codec can't decode bytes in position 1-2: unexpected end of data"
        );
        assert_eq!(
            decode_charset(b"a\xe2\x82x", Some("utf_8"))
                .unwrap_err()
                .to_string(),
            "'utf-8' codec can't decode bytes in position 1-2: invalid continuation byte"
        );
        assert_eq!(
            decode_charset(b"\xed\xa0\x80", None)
                .unwrap_err()
                .to_string(),
            "'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte"
        );
        assert_eq!(
            decode_charset(b"\xc0\xaf", None).unwrap_err().to_string(),
            "'utf-8' codec can't decode byte 0xc0 in position 0: invalid start byte"
        );
    }

    #[test]
    fn other_charsets() {
        assert_eq!(
            decode_charset(b"R\xe9sum\xe9", Some("ISO-8859-1")).unwrap(),
            "R\u{e9}sum\u{e9}"
        );
        assert_eq!(decode_charset(b"x\xe9", Some("latin1")).unwrap(), "x\u{e9}");
        assert_eq!(
            decode_charset(b"ab\xe9", Some("US-ASCII"))
                .unwrap_err()
                .to_string(),
            "'ascii' codec can't decode byte 0xe9 in position 2: ordinal not in range(128)"
        );
        assert_eq!(
            decode_charset(b"\x80\x81", Some("windows-1252"))
                .unwrap_err()
                .to_string(),
            "'charmap' codec can't decode byte 0x81 in position 1: character maps to <undefined>"
        );
        assert_eq!(
            decode_charset(b"\xef\xbb\xbf{}", Some("utf-8-sig")).unwrap(),
            "{}"
        );
        assert_eq!(
            decode_charset(b"\xef\xbb\xbfab\xff", Some("utf-8-sig"))
                .unwrap_err()
                .to_string(),
            "'utf-8' codec can't decode byte 0xff in position 2: invalid start byte"
        );
        assert_eq!(
            decode_charset(b"{}", Some("klingon")),
            Err(CharsetError::Unknown("klingon".to_owned()))
        );
    }

    #[test]
    fn parse_body_handles_empty_and_errors() {
        assert_eq!(parse_body(b"", None), Ok(None));
        assert_eq!(
            parse_body(b"{}", Some("utf-8")),
            Ok(Some(JsonValue::Object(JsonObject::new())))
        );
        assert_eq!(
            parse_body("\u{ae}".as_bytes(), None).unwrap_err().detail(),
            Some("JSONDecodeError('Expecting value: line 1 column 1 (char 0)')".to_owned())
        );
        assert_eq!(
            parse_body(b"\xe9", None).unwrap_err().detail(),
            Some(
                "'utf-8' codec can't decode byte 0xe9 in position 0: unexpected end of data"
                    .to_owned()
            )
        );
        assert_eq!(
            parse_body(b"{}", Some("nope")),
            Err(BodyError::UnknownCharset("nope".to_owned()))
        );
        assert_eq!(parse_body(b"{}", Some("nope")).unwrap_err().detail(), None);
    }
}
