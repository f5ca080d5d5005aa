//! One-pass reading of a JSON object's top-level members without building a
//! `Value`: the verification path's parser (SPEC §2, §3, §6).
//!
//! It enforces exactly what [`crate::json::parse_object`] enforces — one JSON
//! object, nothing after it, no duplicate member names at any depth (after
//! unescaping), finite numbers, serde_json's nesting limit — but hands each
//! top-level member to a [`Fields`] consumer as it goes, borrowing strings
//! from the input whenever they contain no escape. A token's header and
//! payload are read this way with no heap allocation unless a string holds an
//! escape or a nested object appears (each then costs one small allocation).

use crate::limits::{MAX_JSON_CONTAINERS, MAX_JSON_MEMBERS};
use alloc::borrow::Cow;
use alloc::collections::BTreeSet;
use alloc::string::String;
use core::cell::Cell;
use core::fmt;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A top-level member's value, captured just enough to decide on it.
#[derive(Debug)]
pub(crate) enum Member<'de> {
    /// A string (borrowed from the input when it has no escape).
    Str(Cow<'de, str>),
    /// A non-negative integer.
    Unsigned(u64),
    /// A negative integer.
    Negative,
    /// An array; `strings_only` when every element was a string (those were
    /// passed to [`Fields::item`] if the consumer asked for them).
    Array {
        /// Every element was a string.
        strings_only: bool,
    },
    /// A float, boolean, null or object.
    Other,
}

/// What a caller of [`scan_object`] does with each top-level member.
pub(crate) trait Fields<'de> {
    /// Whether the string elements of this member, if it is an array, should
    /// be passed to [`item`](Self::item) (before [`member`](Self::member)).
    fn wants_items(&self, name: &str) -> bool;
    /// One string element of an array member that [`wants_items`](Self::wants_items).
    fn item(&mut self, value: Cow<'de, str>);
    /// One top-level member, in document order.
    fn member(&mut self, name: &str, value: Member<'de>);
}

/// Reads `bytes` as exactly one JSON object, calling `fields` for each member.
/// `None` when it is not one strict JSON object (the caller's `malformed`).
pub(crate) fn scan_object<'de, F: Fields<'de>>(bytes: &'de [u8], fields: &mut F) -> Option<()> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let budget = Cell::new(MAX_JSON_CONTAINERS);
    TopSeed {
        fields,
        budget: &budget,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()
}

/// Member names already seen in one object. The top level keeps borrowed
/// names inline (no allocation for up to [`INLINE_KEYS`] names without
/// escapes); escaped names and overflow go to an ordered set, so a hostile
/// object of thousands of members costs O(n log n), not O(n^2) (fuzz
/// finding cost-1: a 32 KiB header of tiny members took 230x a verification).
struct SeenKeys<'de> {
    inline: [&'de str; INLINE_KEYS],
    fingerprints: [u32; INLINE_KEYS],
    len: usize,
    spill: BTreeSet<Cow<'de, str>>,
}

const INLINE_KEYS: usize = 64;

fn fingerprint(s: &str) -> u32 {
    let b = s.as_bytes();
    let first = b.first().copied().unwrap_or(0);
    let last = b.last().copied().unwrap_or(0);
    ((b.len() as u32) << 16) | (u32::from(first) << 8) | u32::from(last)
}

impl<'de> SeenKeys<'de> {
    fn new() -> Self {
        Self {
            inline: [""; INLINE_KEYS],
            fingerprints: [0; INLINE_KEYS],
            len: 0,
            spill: BTreeSet::new(),
        }
    }

    /// Records `key`; false when it was already there.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        let fp = fingerprint(&key);
        let fps = self.fingerprints.get(..self.len).unwrap_or_default();
        let names = self.inline.get(..self.len).unwrap_or_default();
        if fps
            .iter()
            .zip(names)
            .any(|(&f, &name)| f == fp && name == key)
        {
            return false;
        }
        if self.spill.contains(&key) {
            return false;
        }
        match key {
            Cow::Borrowed(name) if self.len < INLINE_KEYS => {
                if let (Some(slot), Some(f)) = (
                    self.inline.get_mut(self.len),
                    self.fingerprints.get_mut(self.len),
                ) {
                    *slot = name;
                    *f = fp;
                    self.len += 1;
                }
            }
            other => {
                self.spill.insert(other);
            }
        }
        true
    }
}

/// A member name, borrowed when it has no escape.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(String::from(v)))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

struct TopSeed<'f, F> {
    fields: &'f mut F,
    /// Arrays and objects still allowed (fuzz finding cost-3).
    budget: &'f Cell<usize>,
}

impl<'de, F: Fields<'de>> DeserializeSeed<'de> for TopSeed<'_, F> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: Fields<'de>> Visitor<'de> for TopSeed<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = SeenKeys::new();
        let mut members = 0usize;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let wants = self.fields.wants_items(&key);
            let value = map.next_value_seed(MemberSeed {
                budget: self.budget,
                sink: if wants {
                    Some(&mut *self.fields as &mut dyn ItemSink<'de>)
                } else {
                    None
                },
            })?;
            self.fields.member(&key, value);
            if !seen.insert(key) {
                return Err(de::Error::custom("duplicate member"));
            }
            members += 1;
            if members > MAX_JSON_MEMBERS {
                return Err(de::Error::custom("too many members"));
            }
        }
        Ok(())
    }
}

/// Counts one array or object against the budget of a token segment.
fn spend<E: de::Error>(budget: &Cell<usize>) -> Result<(), E> {
    match budget.get().checked_sub(1) {
        Some(left) => {
            budget.set(left);
            Ok(())
        }
        None => Err(E::custom("too many arrays and objects")),
    }
}

/// The part of [`Fields`] an array element needs (object-safe).
trait ItemSink<'de> {
    fn push(&mut self, value: Cow<'de, str>);
}

impl<'de, F: Fields<'de>> ItemSink<'de> for F {
    fn push(&mut self, value: Cow<'de, str>) {
        self.item(value);
    }
}

struct MemberSeed<'s, 'de> {
    budget: &'s Cell<usize>,
    sink: Option<&'s mut dyn ItemSink<'de>>,
}

impl<'de> DeserializeSeed<'de> for MemberSeed<'_, 'de> {
    type Value = Member<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MemberSeed<'_, 'de> {
    type Value = Member<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(if v >= 0 {
            Member::Unsigned(v.unsigned_abs())
        } else {
            Member::Negative
        })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Member::Unsigned(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.is_finite() {
            Ok(Member::Other)
        } else {
            Err(E::custom("non-finite number"))
        }
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(String::from(v))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        spend(self.budget)?;
        let mut strings_only = true;
        let budget = self.budget;
        match self.sink {
            Some(sink) => {
                while let Some(item) = seq.next_element_seed(ItemSeed(budget))? {
                    match item {
                        Some(s) => sink.push(s),
                        None => strings_only = false,
                    }
                }
            }
            None => {
                while let Some(is_string) = seq.next_element_seed(Strict(budget))? {
                    strings_only &= is_string;
                }
            }
        }
        Ok(Member::Array { strings_only })
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Strict(self.budget).visit_map(map)?;
        Ok(Member::Other)
    }
}

/// An array element: `Some` string, or `None` for anything else (still
/// checked strictly).
struct ItemSeed<'b>(&'b Cell<usize>);

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(String::from(v))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Strict(self.0).visit_f64(v).map(|_| None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Strict(self.0).visit_seq(seq).map(|_| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Strict(self.0).visit_map(map).map(|_| None)
    }
}

/// Checks a nested value strictly (duplicates, finite numbers) and keeps
/// nothing; answers whether it was a string.
#[derive(Clone, Copy)]
struct Strict<'b>(&'b Cell<usize>);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        if v.is_finite() {
            Ok(false)
        } else {
            Err(E::custom("non-finite number"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        spend(self.0)?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        spend(self.0)?;
        // An ordered set, not a list: see `SeenKeys` (fuzz finding cost-1).
        let mut seen: BTreeSet<Cow<'de, str>> = BTreeSet::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if seen.contains(&key) {
                return Err(de::Error::custom("duplicate member"));
            }
            map.next_value_seed(self)?;
            seen.insert(key);
            if seen.len() > MAX_JSON_MEMBERS {
                return Err(de::Error::custom("too many members"));
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    #[derive(Default)]
    struct Collect {
        members: Vec<(String, String)>,
        items: Vec<String>,
    }
    impl<'de> Fields<'de> for Collect {
        fn wants_items(&self, name: &str) -> bool {
            name == "aud"
        }
        fn item(&mut self, value: Cow<'de, str>) {
            self.items.push(value.into_owned());
        }
        fn member(&mut self, name: &str, value: Member<'de>) {
            self.members
                .push((name.to_string(), alloc::format!("{value:?}")));
        }
    }

    fn scan(s: &str) -> Option<Collect> {
        let mut c = Collect::default();
        scan_object(s.as_bytes(), &mut c).map(|()| c)
    }

    /// The scanner accepts and refuses exactly what `parse_object` does.
    #[test]
    fn agrees_with_parse_object() {
        let cases = [
            r#"{"a":1,"b":{"c":[1,{"d":2}]}}"#,
            r#"{"a":1,"a":1}"#,
            r#"{"a":{"b":1,"b":2}}"#,
            r#"{"a":[{"b":1,"b":2}]}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#"{"aud":["x",{"y":1,"y":2}]}"#,
            r#"{"aud":["x",1,"\u0079"]}"#,
            "[]",
            "\"x\"",
            "{} {}",
            "{}x",
            "",
            r#"{"a":1e309}"#,
            r#"{"a":-1,"b":1.5,"c":null,"d":true,"e":"\"q\""}"#,
            r#"{"k1":1,"k2":2,"k1":3}"#,
        ];
        for case in cases {
            assert_eq!(
                scan(case).is_some(),
                crate::json::parse_object(case.as_bytes()).is_some(),
                "{case}"
            );
        }
        let many: String = (0..100)
            .map(|i| alloc::format!("\"k{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(scan(&alloc::format!("{{{many}}}")).is_some());
        assert!(scan(&alloc::format!("{{{many},\"k99\":0}}")).is_none());
        assert!(scan(&alloc::format!("{{{many},\"k3\":0}}")).is_none());
    }

    #[test]
    fn members_and_items() {
        let c = scan(r#"{"aud":["x",1,"\u0079"],"exp":5,"n":-2,"s":"t"}"#).unwrap();
        assert_eq!(c.items, vec!["x", "y"]);
        assert_eq!(c.members[0].1, "Array { strings_only: false }");
        assert_eq!(c.members[1].1, "Unsigned(5)");
        assert_eq!(c.members[2].1, "Negative");
        assert!(c.members[3].1.contains("\"t\""));
    }
}
