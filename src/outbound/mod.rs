//! Outbound path, in the order a touch travels: the `scheduler` runs the periodic jobs, the
//! `calendar` decides what is due for whom and when, the `planner` stores that in the outbox
//! table, `outbox` leases due touches to a worker, `render` turns one into text, and the
//! `dispatcher` decides at send time what goes, and `touches` delivers it through a channel on
//! the delivery engine (`crate::delivery`). `preview` shows an account's stored calendar.
//!
//! What happens around a send: `unreachable` marks a contact the channel refused for good and
//! tells their CSM, `template_notice` tells the team of a missing WhatsApp template, and
//! `backlog` re-times touches left long overdue by an outage before the dispatcher claims
//! them. Posts to the CS team are `crate::staff_posts`. `window` is WhatsApp's 24-hour
//! window, which decides whether a touch goes as free text or as its template.

pub mod backlog;
pub mod calendar;
pub mod dispatcher;
pub mod outbox;
pub mod planner;
pub mod preview;
pub mod render;
pub mod scheduler;
pub mod send_row;
pub mod template_notice;
pub mod touches;
pub mod unreachable;
pub mod window;
