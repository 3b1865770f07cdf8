//! Telling "absent" from "null" in request bodies. serde reads both as `None` for an
//! `Option`, but a PATCH means different things by them: leave the field alone, or clear
//! it. With `#[serde(default, deserialize_with = "present")]` on an `Option<Option<T>>`
//! field, absent is `None`, null is `Some(None)` and a value is `Some(Some(value))`.

use serde::{Deserialize, Deserializer};

pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "present")]
        field: Option<Option<i64>>,
    }

    #[test]
    fn absent_null_and_value_differ() {
        let read = |text: &str| serde_json::from_str::<Body>(text).unwrap().field;
        assert_eq!(read("{}"), None);
        assert_eq!(read(r#"{"field": null}"#), Some(None));
        assert_eq!(read(r#"{"field": 3}"#), Some(Some(3)));
    }
}
