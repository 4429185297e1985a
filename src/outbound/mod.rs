//! Outbound path, in the order a touch travels: the `scheduler` runs the periodic jobs, the
//! `calendar` decides what is due for whom and when, the `planner` stores that in the outbox
//! table, `outbox` leases due touches to a worker, `render` turns one into text, and the
//! `dispatcher` sends it through a channel. `preview` shows an account's stored calendar.

pub mod calendar;
pub mod dispatcher;
pub mod outbox;
pub mod planner;
pub mod preview;
pub mod render;
pub mod scheduler;
pub mod staff_posts;
pub mod wakeup;
