//! Homework and progress: setting homework from a lesson, handing in,
//! grading, the lists for parents and tutors, the progress figures and
//! termly reports.

pub mod hand_in;
pub mod progress;
pub mod reports;
pub mod set_and_list;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(set_and_list::set)
        .service(set_and_list::get)
        .service(set_and_list::for_student)
        .service(set_and_list::of_tutor)
        .service(hand_in::submit)
        .service(hand_in::grade)
        .service(progress::student)
        .service(progress::tutor)
        .service(reports::write)
        .service(reports::of_student)
        .service(reports::all);
}
