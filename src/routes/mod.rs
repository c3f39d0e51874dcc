//! HTTP routes: the REST API under /api/v1, the socket, health checks.

mod admin_tutors;
mod audit;
mod bookings;
mod calendar;
mod calendar_feed;
mod catalog;
mod conversations;
mod credits;
mod family_parents;
mod health;
mod lessons;
mod login;
mod logout;
mod me;
mod notifications;
mod notify_prefs;
mod register;

pub use register::{DEFAULT_TIMEZONE, check_account};
mod socket;
mod students;
mod tutor_profile;
mod tutors;
mod twilio_webhooks;
mod window;

pub use twilio_webhooks::STATUS_PATH as TWILIO_STATUS_PATH;

use actix_web::{HttpResponse, web};
use utoipa::OpenApi;

use crate::error::{json_error, path_error, query_error};

#[derive(OpenApi)]
#[openapi(
    info(title = "CMS Education Platform real-time server", version = "1"),
    paths(
        register::register,
        login::login,
        logout::logout,
        me::me,
        me::update_me,
        notifications::list,
        notifications::mark_read,
        notify_prefs::get_prefs,
        notify_prefs::put_prefs,
        family_parents::add_parent,
        students::create_student,
        students::list_students,
        conversations::create_conversation,
        conversations::list_conversations,
        audit::conversation_audit,
        catalog::list_subjects,
        catalog::create_subject,
        catalog::update_subject,
        catalog::list_templates,
        catalog::create_template,
        tutor_profile::get_profile,
        tutor_profile::put_profile,
        tutor_profile::put_availability,
        tutors::search,
        tutors::tutor,
        tutors::slots,
        admin_tutors::list,
        admin_tutors::set_status,
        bookings::create_booking,
        lessons::get_lesson,
        lessons::cancel,
        lessons::reschedule,
        lessons::add_students,
        calendar::calendar,
        calendar_feed::get_feed,
        calendar_feed::rotate_feed,
        credits::list_credits,
    ),
    components(schemas(
        register::RegisterRequest,
        login::LoginRequest,
        login::AuthResponse,
        students::NewStudent,
        family_parents::NewParent,
        conversations::NewConversation,
        cms_store::UserRow,
        cms_store::StudentRow,
        cms_store::ConversationRow,
        cms_store::ConversationSummary,
        cms_store::RevisionRow,
        cms_store::SubjectRow,
        cms_store::TemplateRow,
        cms_store::TutorProfile,
        cms_store::Teaching,
        cms_store::CreditRow,
        cms_domain::scheduling::availability::Window,
        cms_domain::scheduling::availability::Override,
        cms_domain::scheduling::availability::OverrideKind,
        cms_domain::scheduling::recurrence::Freq,
        catalog::NewSubject,
        catalog::SubjectUpdate,
        catalog::NewTemplate,
        tutor_profile::SubjectRate,
        tutor_profile::ProfileRequest,
        tutor_profile::AvailabilityRequest,
        tutors::TutorHit,
        tutors::Slots,
        tutors::Slot,
        admin_tutors::StatusRequest,
        admin_tutors::Decision,
        register::SignUpRole,
        crate::lessons::book::BookingRequest,
        crate::lessons::book::Recurrence,
        crate::lessons::book::BookingResponse,
        crate::lessons::Clash,
        crate::lessons::change::CancelRequest,
        crate::lessons::change::Scope,
        crate::lessons::change::CancelResponse,
        crate::lessons::change::RescheduleRequest,
        crate::lessons::change::RescheduleResponse,
        crate::lessons::change::AddStudentsRequest,
        calendar_feed::FeedLink,
        me::ProfileUpdate,
        notifications::ReadRequest,
        notifications::ReadResponse,
        cms_store::notify::NotificationRow,
        crate::notify::prefs::Prefs,
        crate::notify::prefs::Switches,
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
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/socket/websocket", web::get().to(socket::socket))
    .route("/calendar/{file}", web::get().to(calendar_feed::feed))
    .route(
        twilio_webhooks::SMS_PATH,
        web::post().to(twilio_webhooks::inbound_sms),
    )
    .route(
        twilio_webhooks::STATUS_PATH,
        web::post().to(twilio_webhooks::status_callback),
    )
    .service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi_json))
            .route("/auth/register", web::post().to(register::register))
            .route("/auth/login", web::post().to(login::login))
            .route("/auth/logout", web::post().to(logout::logout))
            .route("/me", web::get().to(me::me))
            .route("/me", web::patch().to(me::update_me))
            .route("/me/notifications", web::get().to(notify_prefs::get_prefs))
            .route("/me/notifications", web::put().to(notify_prefs::put_prefs))
            .route("/notifications", web::get().to(notifications::list))
            .route(
                "/notifications/read",
                web::post().to(notifications::mark_read),
            )
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
            )
            .route("/subjects", web::get().to(catalog::list_subjects))
            .route("/templates", web::get().to(catalog::list_templates))
            .route("/admin/subjects", web::post().to(catalog::create_subject))
            .route(
                "/admin/subjects/{id}",
                web::put().to(catalog::update_subject),
            )
            .route("/admin/templates", web::post().to(catalog::create_template))
            .route("/admin/tutors", web::get().to(admin_tutors::list))
            .route(
                "/admin/tutors/{id}/status",
                web::put().to(admin_tutors::set_status),
            )
            .route("/tutor/profile", web::get().to(tutor_profile::get_profile))
            .route("/tutor/profile", web::put().to(tutor_profile::put_profile))
            .route(
                "/tutor/availability",
                web::put().to(tutor_profile::put_availability),
            )
            .route("/tutors", web::get().to(tutors::search))
            .route("/tutors/{id}", web::get().to(tutors::tutor))
            .route("/tutors/{id}/slots", web::get().to(tutors::slots))
            .route("/bookings", web::post().to(bookings::create_booking))
            .route("/lessons/{id}", web::get().to(lessons::get_lesson))
            .route("/lessons/{id}/cancel", web::post().to(lessons::cancel))
            .route(
                "/lessons/{id}/reschedule",
                web::post().to(lessons::reschedule),
            )
            .route(
                "/lessons/{id}/students",
                web::post().to(lessons::add_students),
            )
            .route("/calendar", web::get().to(calendar::calendar))
            .route("/me/calendar-feed", web::get().to(calendar_feed::get_feed))
            .route(
                "/me/calendar-feed/rotate",
                web::post().to(calendar_feed::rotate_feed),
            )
            .route("/credits", web::get().to(credits::list_credits)),
    )
    .default_service(web::to(|| async {
        Err::<HttpResponse, _>(crate::error::ApiError::NotFound("no such route".into()))
    }));
}
