//! Event names, in one place so server and clients agree.

// Phoenix's own.
pub const JOIN: &str = "phx_join";
pub const LEAVE: &str = "phx_leave";
pub const REPLY: &str = "phx_reply";
pub const ERROR: &str = "phx_error";
pub const CLOSE: &str = "phx_close";
pub const HEARTBEAT: &str = "heartbeat";
pub const PRESENCE_STATE: &str = "presence_state";
pub const PRESENCE_DIFF: &str = "presence_diff";

// Chat, client → server.
pub const MESSAGE_SEND: &str = "message:send";
pub const MESSAGE_HISTORY: &str = "message:history";
pub const MESSAGE_READ: &str = "message:read";
pub const MESSAGE_EDIT: &str = "message:edit";
pub const MESSAGE_DELETE: &str = "message:delete";
pub const TYPING: &str = "typing";

// Chat, server → client.
pub const MESSAGE_NEW: &str = "message:new";
pub const MESSAGE_UPDATED: &str = "message:updated";
pub const READ: &str = "read";

// Calendars, server → client.
pub const CALENDAR_CHANGED: &str = "calendar:changed";

// Notifications, server → client.
pub const NOTIFICATION: &str = "notification";
pub const NOTIFICATION_FAILED: &str = "notification:failed";

// Lessons as they happen, server → client (the lesson timers).
pub const LESSON_LATE: &str = "lesson:late";
pub const BOARD_ALERT: &str = "board:alert";
// The admins' board: a lesson's row after any change.
pub const BOARD_LESSON: &str = "board:lesson";

// The lesson room (`session:<id>`), client → server.
pub const LESSON_START: &str = "lesson:start";
pub const LESSON_END: &str = "lesson:end";
/// Both ways: a client sends it for one participant, who receives it.
pub const WEBRTC_SIGNAL: &str = "webrtc:signal";

// The lesson room, server → client.
pub const LESSON_STATUS: &str = "lesson:status";
pub const VIDEO_READY: &str = "video:ready";

// Tutors' documents and uploads, server → client: to the tutor's topic and
// the admins' board.
pub const DOCUMENT_CHANGED: &str = "document:changed";
/// To the admins' board: the malware scan refused a file.
pub const UPLOAD_INFECTED: &str = "upload:infected";

// Homework, server → client: to each family with a child in it.
pub const HOMEWORK_SET: &str = "homework:set";
