//! Tutors: the subject and template catalogue, a tutor's profile and
//! availability, search and free slots, and admins' approval.

pub mod admin_tutors;
pub mod catalog;
pub mod search;
pub mod tutor_profile;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(catalog::list_subjects)
        .service(catalog::list_templates)
        .service(catalog::create_subject)
        .service(catalog::update_subject)
        .service(catalog::create_template)
        .service(admin_tutors::list)
        .service(admin_tutors::set_status)
        .service(tutor_profile::get_profile)
        .service(tutor_profile::put_profile)
        .service(tutor_profile::put_availability)
        .service(search::search)
        .service(search::get_tutor)
        .service(search::slots);
}
