//! The OpenAPI document: the contract of the REST API, made from the same
//! types and annotations the handlers use. Paths come from mounting the
//! handlers (see `configure`); what every route shares because of a shared
//! mechanism (the bearer extractor, the JSON body, query and path
//! extractors, the store) is added here once, from what the operation
//! declares, so no handler repeats it.

use actix_web::{App, HttpResponse, web};
use cms_domain::ids;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(title = "CMS Education Platform real-time server", version = "1"),
    components(schemas(
        ErrorBody,
        ids::UserId,
        ids::FamilyId,
        ids::StudentId,
        ids::ConversationId,
        ids::LessonId,
        ids::SeriesId,
        ids::SubjectId,
        ids::TemplateId,
        ids::CreditId,
        ids::NotificationId,
        ids::FileId,
        ids::DocumentId,
        ids::HomeworkId,
        ids::ReportId,
    )),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// The error body every REST failure has.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// Stable machine code, e.g. `invalid`, `conflict`, `unauthorized`.
    error: String,
    message: String,
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as served, and the methods each documented path takes
/// (to answer 405 rather than 404 for a path that exists).
pub struct Document {
    json: serde_json::Value,
    routes: Vec<(Vec<String>, Vec<&'static str>)>,
}

impl Document {
    pub fn new(api: &utoipa::openapi::OpenApi) -> Result<Self, serde_json::Error> {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, on)| on.then_some(m))
                .collect();
                (segments(path).map(str::to_owned).collect(), methods)
            })
            .collect();
        Ok(Self {
            json: serde_json::to_value(api)?,
            routes,
        })
    }

    /// The methods a request path takes, if it is a documented path.
    pub fn methods_for(&self, path: &str) -> Option<&[&'static str]> {
        let asked: Vec<&str> = segments(path).collect();
        self.routes.iter().find_map(|(pattern, methods)| {
            let fits = pattern.len() == asked.len()
                && pattern
                    .iter()
                    .zip(&asked)
                    .all(|(p, a)| p == a || (p.starts_with('{') && !a.is_empty()));
            fits.then_some(methods.as_slice())
        })
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/')
}

/// Mounts the routes on a throwaway app to collect their paths, then adds
/// what the shared extractors answer.
pub fn base_document() -> utoipa::openapi::OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(super::configure)
        .split_for_parts();
    for item in api.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add_shared_responses(op);
        }
    }
    api
}

fn error(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// The answers an operation gets from the machinery it uses, unless the
/// handler already describes them.
fn add_shared_responses(op: &mut Operation) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_path = params
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path));
    let has_query = params
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query));
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut shared: Vec<(&str, &str)> = vec![("503", "the database is unavailable")];
    if secured {
        shared.push(("401", "missing, bad, expired or revoked token"));
    }
    if op.request_body.is_some() {
        shared.push(("400", "the body is not JSON, or not application/json"));
        shared.push(("422", "the body is JSON of the wrong shape or values"));
    }
    if has_query {
        shared.push(("422", "a query parameter is unknown or malformed"));
    }
    if has_path {
        shared.push(("404", "nothing the caller may see has that id"));
    }
    for (status, description) in shared {
        if !op.responses.responses.contains_key(status) {
            op.responses
                .responses
                .insert(status.to_owned(), error(description).into());
        }
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn serve_document(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok().json(&doc.json)
}
