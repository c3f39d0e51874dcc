//! Lessons: booking, one lesson and its changes, calendars, the secret
//! iCalendar feed link, makeup credits. The workflows are the use cases in
//! `crate::lessons`; these handlers only translate.

pub mod bookings;
pub mod calendar;
pub mod calendar_feed;
pub mod credits;
pub mod lesson;
pub mod live;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(bookings::create_booking)
        .service(lesson::get_lesson)
        .service(lesson::cancel)
        .service(lesson::reschedule)
        .service(lesson::add_students)
        .service(live::start)
        .service(live::end)
        .service(live::events)
        .service(live::reviewed)
        .service(calendar::calendar)
        .service(calendar_feed::get_feed)
        .service(calendar_feed::rotate_feed)
        .service(credits::list_credits);
}
