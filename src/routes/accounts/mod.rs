//! Accounts: sign-up, login and logout, the caller's own profile, a
//! family's children and second parent.

pub mod family_parents;
pub mod login;
pub mod logout;
pub mod me;
pub mod register;
pub mod students;

use std::net::{IpAddr, Ipv4Addr};

use utoipa_actix_web::service_config::ServiceConfig;

/// The client address the throttles count by: the TCP peer. Forwarded
/// headers are not read, as anyone can write them; behind a reverse proxy
/// every client is the proxy (see docs/security.md).
pub fn client_ip(req: &actix_web::HttpRequest) -> IpAddr {
    req.peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip())
}

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
