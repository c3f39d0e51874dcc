//! Integer fields as JSON Schema defines them: `15` and `15.0` are the same
//! integer. serde_json refuses a float for an integer type, so a client
//! whose JSON library writes every number with a decimal point (Python's
//! `json.dumps(15.0)`, some mobile encoders) would be told `15.0` is not a
//! whole number of minutes. These deserializers accept any whole number in
//! the target type's range, and still refuse `15.5` and out-of-range values
//! with serde's own message.
//!
//! Use with `#[serde(deserialize_with = "cms_domain::whole_number::int")]`,
//! or `option` (with `#[serde(default)]`) for an optional field.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Unexpected, Visitor};

/// A whole number that fits `T`.
pub fn int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    d.deserialize_any(Whole(PhantomData))
}

/// `null` or a whole number that fits `T`.
pub fn option<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    d.deserialize_option(Optional(PhantomData))
}

struct Whole<T>(PhantomData<T>);

impl<T: TryFrom<i64> + TryFrom<u64>> Visitor<'_> for Whole<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a whole number that fits {}", short_name::<T>())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // Exact: i64's range as f64 bounds, and a zero fraction, mean the
        // cast below loses nothing.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
        if v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v) {
            return self.visit_i64(v as i64);
        }
        Err(E::invalid_type(Unexpected::Float(v), &self))
    }
}

struct Optional<T>(PhantomData<T>);

impl<'de, T: TryFrom<i64> + TryFrom<u64>> Visitor<'de> for Optional<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "null or a whole number that fits {}", short_name::<T>())
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        int(d).map(Some)
    }
}

/// `u16`, not `core::primitive::u16`, in messages.
fn short_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    name.rsplit("::").next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::int")]
        minutes: u16,
        #[serde(default, deserialize_with = "super::option")]
        pence: Option<i64>,
    }

    fn parse(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn a_whole_number_written_as_a_float_is_that_number() {
        assert_eq!(
            parse(r#"{"minutes": 15.0, "pence": -250.0}"#),
            Ok(Body {
                minutes: 15,
                pence: Some(-250)
            })
        );
        assert_eq!(
            parse(r#"{"minutes": 1440, "pence": 1e3}"#),
            Ok(Body {
                minutes: 1440,
                pence: Some(1000)
            })
        );
    }

    #[test]
    fn null_and_absent_leave_an_optional_field_empty() {
        let empty = Body {
            minutes: 0,
            pence: None,
        };
        assert_eq!(parse(r#"{"minutes": 0, "pence": null}"#), Ok(empty));
        assert_eq!(
            parse(r#"{"minutes": 0}"#),
            Ok(Body {
                minutes: 0,
                pence: None
            })
        );
    }

    #[test]
    fn fractions_out_of_range_values_and_text_are_refused() {
        for bad in [
            r#"{"minutes": 15.5}"#,
            r#"{"minutes": -1}"#,
            r#"{"minutes": 65536}"#,
            r#"{"minutes": 65536.0}"#,
            r#"{"minutes": 1e300}"#,
            r#"{"minutes": "15"}"#,
            r#"{"minutes": 1, "pence": 0.5}"#,
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(err.contains("whole number"), "{bad}: {err}");
        }
    }
}
