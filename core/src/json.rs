//! JSON objects parsed once, refusing duplicate member names at every depth.
//!
//! RFC 7515 §4 and RFC 7519 §4 let a parser reject duplicate member names; we
//! must, because two parsers that pick different duplicates disagree about what
//! was signed (CVE-2022-39227). serde_json alone keeps the last duplicate, so
//! the value is built by a visitor that refuses them. Nesting depth is bounded
//! by serde_json's recursion limit (128).

use crate::limits::MAX_JSON_MEMBERS;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes` as one JSON object without duplicate members anywhere.
pub(crate) fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue.deserialize(&mut de).ok()?;
    // Trailing bytes (a second value, garbage) make the document malformed.
    de.end().ok()?;
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Seed that builds a [`Value`] and fails on a duplicate member name.
#[derive(Clone, Copy)]
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(String::from(v)))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom("duplicate member"));
            }
            let value = map.next_value_seed(StrictValue)?;
            out.insert(key, value);
            if out.len() > MAX_JSON_MEMBERS {
                return Err(de::Error::custom("too many members"));
            }
        }
        Ok(Value::Object(out))
    }
}

/// Reads an optional string member; a present non-string is an error.
pub(crate) fn opt_str<'a>(map: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ()> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_refused_at_any_depth() {
        assert!(parse_object(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_some());
        assert!(parse_object(br#"{"a":1,"a":1}"#).is_none());
        assert!(parse_object(br#"{"a":{"b":1,"b":2}}"#).is_none());
        assert!(parse_object(br#"{"a":[{"b":1,"b":2}]}"#).is_none());
        // Escapes are decoded before comparison: "\u0061" is "a".
        assert!(parse_object(br#"{"a":1,"\u0061":2}"#).is_none());
    }

    #[test]
    fn only_one_object() {
        assert!(parse_object(b"[]").is_none());
        assert!(parse_object(b"\"x\"").is_none());
        assert!(parse_object(b"{} {}").is_none());
        assert!(parse_object(b"{}x").is_none());
        assert!(parse_object(b"").is_none());
        assert!(parse_object(b"{\"a\":1e309}").is_none());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut s = alloc::vec![b'['; 100_000];
        s.insert(0, b'{');
        assert!(parse_object(&s).is_none());
        let mut deep = String::from("{\"a\":");
        for _ in 0..200 {
            deep.push_str("{\"a\":");
        }
        assert!(parse_object(deep.as_bytes()).is_none());
    }
}
