//! Lessons: booking, one lesson and its changes, calendars, the secret
//! iCalendar feed link, makeup credits, ratings. The workflows are the use cases in
//! `crate::lessons`; these handlers only translate.

pub mod bookings;
pub mod calendar;
pub mod calendar_feed;
pub mod credits;
pub mod lesson;
pub mod live;
pub mod rating;

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
        .service(rating::rate)
        .service(rating::get_rating)
        .service(rating::tutor_ratings)
        .service(rating::low_ratings)
        .service(calendar::calendar)
        .service(calendar_feed::get_feed)
        .service(calendar_feed::rotate_feed)
        .service(credits::list_credits);
}
