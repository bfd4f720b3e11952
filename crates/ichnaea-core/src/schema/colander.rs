//! The type conversions of the reference's schema library (colander), which decide
//! what rejects a whole request and what is merely "missing" (`api.md` §2.2).
//!
//! Clients depend on these lenient conversions (`"mobileCountryCode": "234"` works,
//! `12.7` truncates to 12, `"considerIp": "false"` is false), and error bodies quote
//! their messages, so they are reproduced rather than replaced by serde's strict typing.
//!
//! Every converter returns `Ok(None)` for "missing" and `Err(message)` for "invalid".
//! Integers that do not fit an `i64` are valid Python ints but out of every range this
//! service accepts; they come back as `Ok(None)` too, which has the same effect as the
//! reference's later range checks (the value is nulled or the entry dropped).

use crate::json::{JsonObject, JsonValue, py_repr_str};

/// Collects colander-style errors: dotted path → message.
#[derive(Debug, Default)]
pub(crate) struct Errors {
    pub(crate) entries: Vec<(String, String)>,
}

impl Errors {
    pub(crate) fn add(&mut self, path: &str, msg: String) {
        self.entries.push((path.to_owned(), msg));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The dotted path of a child node (`items.0.wifiAccessPoints`); the root path is `""`.
pub(crate) fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Sets `buf` to the path of entry `i` of the list at `list` (`items.3`), reusing its
/// allocation: every entry of every submission needs one, although it is only read
/// when the entry has an error.
pub(crate) fn set_index_path(buf: &mut String, list: &str, i: usize) {
    buf.clear();
    buf.push_str(list);
    if !list.is_empty() {
        buf.push('.');
    }
    buf.push_str(itoa::Buffer::new().format(i));
}

/// A `Mapping` node: anything but an object is invalid, including `null`.
pub(crate) fn mapping<'a>(
    value: &'a JsonValue,
    path: &str,
    errors: &mut Errors,
) -> Option<&'a JsonObject> {
    match value {
        JsonValue::Object(obj) => Some(obj),
        other => {
            errors.add(
                path,
                format!(
                    "\"{}\" is not a mapping type: Does not implement dict-like functionality.",
                    other.py_str()
                ),
            );
            None
        }
    }
}

/// A `Sequence` node: only arrays are iterable (colander rejects strings and mappings).
pub(crate) fn sequence<'a>(
    value: &'a JsonValue,
    path: &str,
    errors: &mut Errors,
) -> Option<&'a [JsonValue]> {
    match value {
        JsonValue::Array(items) => Some(items),
        other => {
            errors.add(path, format!("\"{}\" is not iterable", other.py_str()));
            None
        }
    }
}

/// An optional array field: absent → `None` (the schema default, an empty list).
pub(crate) fn sequence_field<'a>(
    obj: &'a JsonObject,
    name: &str,
    path: &str,
    errors: &mut Errors,
) -> Option<&'a [JsonValue]> {
    match obj.get(name)? {
        JsonValue::Array(items) => Some(items),
        // The path is only built for the error.
        other => sequence(other, &join(path, name), errors),
    }
}

/// Colander's "missing" test for numbers: `value != 0 and not value`.
fn number_missing(value: &JsonValue) -> bool {
    !value.is_truthy() && !value.equals_zero()
}

fn not_a_number(value: &JsonValue) -> String {
    format!("\"{}\" is not a number", value.py_str())
}

/// Python's `str.strip()` whitespace.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Removes the underscores Python allows between two digits; `None` if an underscore
/// is misplaced.
fn strip_digit_underscores(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let before = i > 0 && bytes[i - 1].is_ascii_digit();
            let after = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(before && after) {
                return None;
            }
        } else {
            out.push(char::from(b));
        }
    }
    Some(out)
}

/// Python's `int(text)` for base 10: surrounding whitespace, an optional sign, ASCII
/// digits with single underscores between them. `Ok(None)` when the value does not fit
/// an `i64`.
fn parse_py_int(text: &str) -> Result<Option<i64>, ()> {
    let trimmed = text.trim_matches(is_py_space);
    if !trimmed.is_ascii() {
        return Err(());
    }
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.as_bytes()[0].is_ascii_digit() {
        return Err(());
    }
    let digits = strip_digit_underscores(digits).ok_or(())?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > crate::json::MAX_INT_DIGITS {
        return Err(());
    }
    let magnitude = digits.trim_start_matches('0');
    let value = if magnitude.is_empty() {
        Some(0)
    } else {
        magnitude
            .parse::<i128>()
            .ok()
            .map(|v| if negative { -v } else { v })
            .and_then(|v| i64::try_from(v).ok())
    };
    Ok(value)
}

/// Python's `float(text)`: whitespace, sign, decimal or exponent notation with
/// underscores between digits, or `nan` / `inf` / `infinity` in any case.
fn parse_py_float(text: &str) -> Result<f64, ()> {
    let trimmed = text.trim_matches(is_py_space);
    if !trimmed.is_ascii() || trimmed.is_empty() {
        return Err(());
    }
    let unsigned = trimmed.trim_start_matches(['+', '-']);
    if trimmed.len() - unsigned.len() > 1 {
        return Err(());
    }
    let lower = unsigned.to_ascii_lowercase();
    if matches!(lower.as_str(), "nan" | "inf" | "infinity") {
        return trimmed.parse::<f64>().map_err(|_| ());
    }
    if !unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'_' | b'+' | b'-'))
    {
        return Err(());
    }
    let cleaned = strip_digit_underscores(trimmed).ok_or(())?;
    cleaned.parse::<f64>().map_err(|_| ())
}

/// colander `Integer`: Python `int(value)`. `false` → 0, `12.7` → 12, `"01"` → 1;
/// `null`, `""`, `[]`, `{}` are missing; `"12.7"`, `NaN`, lists and objects are invalid.
pub(crate) fn to_int(value: &JsonValue) -> Result<Option<i64>, String> {
    if number_missing(value) {
        return Ok(None);
    }
    match value {
        JsonValue::Bool(b) => Ok(Some(i64::from(*b))),
        JsonValue::Int(i) => Ok(i64::try_from(*i).ok()),
        JsonValue::BigInt(_) => Ok(None),
        JsonValue::Float(f) => {
            if !f.is_finite() {
                return Err(not_a_number(value));
            }
            let t = f.trunc();
            // Exactly representable bounds: [-2^63, 2^63).
            if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t) {
                Ok(Some(t as i64))
            } else {
                Ok(None)
            }
        }
        JsonValue::Str(s) => parse_py_int(s).map_err(|()| not_a_number(value)),
        JsonValue::Null | JsonValue::Array(_) | JsonValue::Object(_) => Err(not_a_number(value)),
    }
}

/// colander `Float` followed by the reference's "bounded float": Python `float(value)`,
/// then NaN and ±infinity (including `"nan"`, `"inf"`) count as missing. An integer too
/// large for a float is invalid, as Python's `OverflowError` is.
pub(crate) fn to_bounded_float(value: &JsonValue) -> Result<Option<f64>, String> {
    if number_missing(value) {
        return Ok(None);
    }
    let f = match value {
        JsonValue::Bool(b) => f64::from(u8::from(*b)),
        JsonValue::Int(i) => *i as f64,
        JsonValue::BigInt(text) => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => f,
            _ => return Err(not_a_number(value)),
        },
        JsonValue::Float(f) => *f,
        JsonValue::Str(s) => parse_py_float(s).map_err(|()| not_a_number(value))?,
        JsonValue::Null | JsonValue::Array(_) | JsonValue::Object(_) => {
            return Err(not_a_number(value));
        }
    };
    Ok(f.is_finite().then_some(f))
}

/// colander `String`: falsy values are missing, other non-strings are invalid with
/// `<v> is not a string: {'<name>': ''}`.
pub(crate) fn to_str(value: &JsonValue, name: &str) -> Result<Option<String>, String> {
    if !value.is_truthy() {
        return Ok(None);
    }
    match value {
        JsonValue::Str(s) => Ok(Some(s.clone())),
        other => Err(format!(
            "{} is not a string: {{{}: ''}}",
            other.py_str(),
            py_repr_str(name)
        )),
    }
}

/// colander `Boolean`: `str(value).lower()` in (`false`, `0`) is false, anything else
/// (including `null`, `""`, `0.0`, `[]`) is true. Never invalid.
pub(crate) fn to_bool(value: &JsonValue) -> bool {
    let text = value.py_str().to_lowercase();
    !(text == "false" || text == "0")
}

/// Reads an integer field; absent, missing and unrepresentable values are `None`.
pub(crate) fn int_field(
    obj: &JsonObject,
    name: &str,
    path: &str,
    errors: &mut Errors,
) -> Option<i64> {
    let value = obj.get(name)?;
    to_int(value).unwrap_or_else(|msg| {
        errors.add(&join(path, name), msg);
        None
    })
}

/// Reads a bounded-float field.
pub(crate) fn float_field(
    obj: &JsonObject,
    name: &str,
    path: &str,
    errors: &mut Errors,
) -> Option<f64> {
    let value = obj.get(name)?;
    to_bounded_float(value).unwrap_or_else(|msg| {
        errors.add(&join(path, name), msg);
        None
    })
}

/// Reads a string field.
pub(crate) fn str_field(
    obj: &JsonObject,
    name: &str,
    path: &str,
    errors: &mut Errors,
) -> Option<String> {
    let value = obj.get(name)?;
    to_str(value, name).unwrap_or_else(|msg| {
        errors.add(&join(path, name), msg);
        None
    })
}

/// Reads a vocabulary field (the reference's `StringVocabularyNode`): a string field,
/// lowercased, kept only if it is one of `vocabulary`.
pub(crate) fn vocabulary_field(
    obj: &JsonObject,
    name: &str,
    vocabulary: &[&str],
    path: &str,
    errors: &mut Errors,
) -> Option<String> {
    let text = str_field(obj, name, path, errors)?.to_lowercase();
    vocabulary.contains(&text.as_str()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn v(text: &str) -> JsonValue {
        parse(text).unwrap()
    }

    #[test]
    fn integers_follow_python_int() {
        assert_eq!(to_int(&v("false")), Ok(Some(0)));
        assert_eq!(to_int(&v("true")), Ok(Some(1)));
        assert_eq!(to_int(&v("0.0")), Ok(Some(0)));
        assert_eq!(to_int(&v("12.7")), Ok(Some(12)));
        assert_eq!(to_int(&v("-12.7")), Ok(Some(-12)));
        assert_eq!(to_int(&v("\"234\"")), Ok(Some(234)));
        assert_eq!(to_int(&v("\"01\"")), Ok(Some(1)));
        assert_eq!(to_int(&v("\" 12 \"")), Ok(Some(12)));
        assert_eq!(to_int(&v("\"1_000\"")), Ok(Some(1000)));
        assert_eq!(to_int(&v("\"-0\"")), Ok(Some(0)));
        assert_eq!(to_int(&v("1e20")), Ok(None), "valid but beyond every range");
        assert_eq!(to_int(&v("99999999999999999999999")), Ok(None));
        for missing in ["null", "\"\"", "[]", "{}"] {
            assert_eq!(to_int(&v(missing)), Ok(None), "{missing}");
        }
        assert_eq!(
            to_int(&v("\"12.7\"")),
            Err("\"12.7\" is not a number".to_owned())
        );
        assert_eq!(
            to_int(&v("\"0x10\"")),
            Err("\"0x10\" is not a number".to_owned())
        );
        assert_eq!(
            to_int(&v("\"ab\"")),
            Err("\"ab\" is not a number".to_owned())
        );
        assert_eq!(
            to_int(&v("\"1__0\"")),
            Err("\"1__0\" is not a number".to_owned())
        );
        assert_eq!(to_int(&v("\" \"")), Err("\" \" is not a number".to_owned()));
        assert_eq!(to_int(&v("NaN")), Err("\"nan\" is not a number".to_owned()));
        assert_eq!(
            to_int(&v("-Infinity")),
            Err("\"-inf\" is not a number".to_owned())
        );
        assert_eq!(to_int(&v("[1]")), Err("\"[1]\" is not a number".to_owned()));
    }

    #[test]
    fn floats_follow_python_float() {
        assert_eq!(to_bounded_float(&v("51.5")), Ok(Some(51.5)));
        assert_eq!(to_bounded_float(&v("3")), Ok(Some(3.0)));
        assert_eq!(to_bounded_float(&v("\" 1.5e1 \"")), Ok(Some(15.0)));
        assert_eq!(to_bounded_float(&v("\"1_0.5\"")), Ok(Some(10.5)));
        assert_eq!(to_bounded_float(&v("true")), Ok(Some(1.0)));
        for missing in [
            "NaN",
            "Infinity",
            "-Infinity",
            "\"nan\"",
            "\"-inf\"",
            "null",
            "\"\"",
        ] {
            assert_eq!(to_bounded_float(&v(missing)), Ok(None), "{missing}");
        }
        assert_eq!(
            to_bounded_float(&v("\"abc\"")),
            Err("\"abc\" is not a number".to_owned())
        );
        assert_eq!(
            to_bounded_float(&v("\"1__0\"")),
            Err("\"1__0\" is not a number".to_owned())
        );
        assert!(to_bounded_float(&v(&format!("1{}", "0".repeat(400)))).is_err());
    }

    #[test]
    fn strings_and_booleans() {
        assert_eq!(to_str(&v("\"x\""), "ssid"), Ok(Some("x".to_owned())));
        for missing in ["null", "0", "false", "[]", "\"\"", "{}"] {
            assert_eq!(to_str(&v(missing), "ssid"), Ok(None), "{missing}");
        }
        assert_eq!(
            to_str(&v("10"), "macAddress"),
            Err("10 is not a string: {'macAddress': ''}".to_owned())
        );
        assert_eq!(
            to_str(&v("true"), "name"),
            Err("True is not a string: {'name': ''}".to_owned())
        );
        for falsy in ["false", "0", "\"false\"", "\"FALSE\"", "\"0\""] {
            assert!(!to_bool(&v(falsy)), "{falsy}");
        }
        for truthy in ["true", "1", "null", "0.0", "[]", "\"\"", "\"yes\"", "\"x\""] {
            assert!(to_bool(&v(truthy)), "{truthy}");
        }
    }

    #[test]
    fn containers() {
        let mut errors = Errors::default();
        assert!(mapping(&v("[1]"), "", &mut errors).is_none());
        assert!(sequence(&v("null"), "items", &mut errors).is_none());
        assert!(sequence(&v("\"abc\""), "cell", &mut errors).is_none());
        assert!(sequence(&v("{\"a\": 1}"), "wifi", &mut errors).is_none());
        assert_eq!(
            errors.entries,
            vec![
                (
                    String::new(),
                    "\"[1]\" is not a mapping type: Does not implement dict-like functionality."
                        .to_owned()
                ),
                ("items".to_owned(), "\"None\" is not iterable".to_owned()),
                ("cell".to_owned(), "\"abc\" is not iterable".to_owned()),
                ("wifi".to_owned(), "\"{'a': 1}\" is not iterable".to_owned()),
            ]
        );
    }
}
