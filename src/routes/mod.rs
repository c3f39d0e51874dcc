//! HTTP routes: the REST API under /api/v1, the socket, health checks.

mod audit;
mod conversations;
mod family_parents;
mod health;
mod login;
mod logout;
mod me;
mod register;

pub use register::{DEFAULT_TIMEZONE, check_account};
mod socket;
mod students;

use actix_web::{HttpResponse, web};
use utoipa::OpenApi;

use crate::error::json_error;

#[derive(OpenApi)]
#[openapi(
    info(title = "CMS Education Platform real-time server", version = "1"),
    paths(
        register::register,
        login::login,
        logout::logout,
        me::me,
        family_parents::add_parent,
        students::create_student,
        students::list_students,
        conversations::create_conversation,
        conversations::list_conversations,
        audit::conversation_audit,
    ),
    components(schemas(
        register::RegisterRequest,
        login::LoginRequest,
        login::AuthResponse,
        students::NewStudent,
        family_parents::NewParent,
        conversations::NewConversation,
        crate::store::UserRow,
        crate::store::StudentRow,
        crate::store::ConversationRow,
        crate::store::ConversationSummary,
        crate::store::RevisionRow,
        ErrorBody,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

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

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(64 * 1024)
            .error_handler(json_error),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/socket/websocket", web::get().to(socket::socket))
    .service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi_json))
            .route("/auth/register", web::post().to(register::register))
            .route("/auth/login", web::post().to(login::login))
            .route("/auth/logout", web::post().to(logout::logout))
            .route("/me", web::get().to(me::me))
            .route(
                "/family/parents",
                web::post().to(family_parents::add_parent),
            )
            .route("/students", web::post().to(students::create_student))
            .route("/students", web::get().to(students::list_students))
            .route(
                "/conversations",
                web::post().to(conversations::create_conversation),
            )
            .route(
                "/conversations",
                web::get().to(conversations::list_conversations),
            )
            .route(
                "/conversations/{id}/audit",
                web::get().to(audit::conversation_audit),
            ),
    )
    .default_service(web::to(|| async {
        Err::<HttpResponse, _>(crate::error::ApiError::NotFound("no such route".into()))
    }));
}
