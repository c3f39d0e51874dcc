//! Accounts: sign-up, login and logout, the caller's own profile, a
//! family's children and second parent.

pub mod family_parents;
pub mod login;
pub mod logout;
pub mod me;
pub mod register;
pub mod students;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(register::register)
        .service(login::login)
        .service(logout::logout)
        .service(me::me)
        .service(me::update_me)
        .service(family_parents::add_parent)
        .service(students::create_student)
        .service(students::list_students);
}
