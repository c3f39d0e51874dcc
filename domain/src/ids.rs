//! Typed record ids. An id is parsed where it enters (a path, a body, a
//! topic, a row) and refused there if it is empty or could not be a record
//! key, so a malformed id never reaches a query and never comes back as a
//! database error. Different kinds of id cannot be mixed up.

use std::fmt;
use std::str::FromStr;

/// Longest id accepted; record keys (UUIDv7, 32 hex digits) are far shorter.
pub const MAX_ID_LEN: usize = 128;

/// Why text is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id must not be empty")]
    Empty,
    #[error("an id is at most {MAX_ID_LEN} characters")]
    TooLong,
    #[error("an id holds only letters, digits, '-' and '_'")]
    BadCharacter,
}

/// Checks text against the record-key alphabet.
pub fn check(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(IdError::BadCharacter);
    }
    Ok(())
}

macro_rules! typed_id {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                check(s).map(|()| Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(s: String) -> Result<Self, IdError> {
                check(&s).map(|()| Self(s))
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                id_schema()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    )+};
}

/// The OpenAPI schema every id shares.
#[cfg(feature = "openapi")]
fn id_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_ID_LEN))
        .pattern(Some("^[A-Za-z0-9_-]+$"))
        .into()
}

typed_id! {
    /// Any account: parent, tutor or admin. A tutor's id is their user id.
    UserId,
    FamilyId,
    StudentId,
    ConversationId,
    LessonId,
    SeriesId,
    SubjectId,
    TemplateId,
    CreditId,
    NotificationId,
    /// A stored upload.
    FileId,
    /// A tutor's DBS certificate or qualification.
    DocumentId,
    HomeworkId,
    ReportId,
    /// An admin's package offer.
    OfferId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_where_they_enter() {
        assert!("0193ab_c-1".parse::<LessonId>().is_ok());
        assert_eq!("".parse::<LessonId>(), Err(IdError::Empty));
        assert_eq!(" ".parse::<LessonId>(), Err(IdError::BadCharacter));
        assert_eq!("a:b".parse::<UserId>(), Err(IdError::BadCharacter));
        assert_eq!("⟨x⟩".parse::<UserId>(), Err(IdError::BadCharacter));
        assert_eq!(
            "x".repeat(MAX_ID_LEN + 1).parse::<UserId>(),
            Err(IdError::TooLong)
        );
        let from_json: Result<UserId, _> = serde_json_like("\"\"");
        assert!(from_json.is_err());
    }

    /// Deserialises through serde's own string deserializer, without a JSON
    /// dependency in this crate.
    fn serde_json_like(quoted: &str) -> Result<UserId, serde::de::value::Error> {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        let inner = quoted.trim_matches('"').to_owned();
        UserId::deserialize(inner.into_deserializer())
    }
}
