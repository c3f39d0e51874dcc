//! Schemas the derive cannot say: a `timezone` field's schema lists every
//! IANA zone the server accepts, so a schema-valid zone is one it takes.

/// Every IANA zone the server accepts, as the schema of a `timezone`
/// field: a schema-valid zone is one the server takes.
pub fn zone_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|z| z.name())))
        .examples(["Europe/London"])
        .build()
}

/// The same, for a field that may be left out or null.
pub fn optional_zone_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut zones: Vec<serde_json::Value> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|z| serde_json::Value::from(z.name()))
        .collect();
    zones.push(serde_json::Value::Null);
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(zones))
        .build()
}
