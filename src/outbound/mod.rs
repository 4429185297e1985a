//! Outbound path, in the order a touch travels: the `scheduler` runs the periodic jobs, the
//! `calendar` decides what is due for whom and when, the `planner` stores that in the outbox
//! table, `outbox` leases due touches to a worker, `render` turns one into text, and the
//! `dispatcher` sends it through a channel. `preview` shows an account's stored calendar.
//!
//! Posts to the CS team travel alongside: `staff_posts` queues them, `digest` gathers the
//! non-urgent ones into a daily post, `post_queue` leases them and `post_dispatcher` delivers
//! them to a staff member's Telegram or the team chat; both run on the engine in `delivery`,
//! touches as `touches`. `unreachable` marks a contact the channel refused for good. `backlog` re-times touches left
//! long overdue by an outage before the dispatcher claims them. `window` is WhatsApp's 24-hour
//! window, which decides whether a touch goes as free text or as its template.

pub mod backlog;
pub mod calendar;
pub mod digest;
pub mod dispatcher;
pub mod outbox;
pub mod planner;
pub mod post_dispatcher;
pub mod post_queue;
pub mod post_texts;
pub mod preview;
pub mod render;
pub mod scheduler;
pub mod send_row;
pub mod staff_posts;
pub mod template_notice;
pub mod touches;
pub mod unreachable;
pub mod window;
