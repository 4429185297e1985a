//! Outbound path: the scheduler asks the calendar what is due, the planner stores it in the
//! outbox, and the dispatcher delivers it through a channel.

pub mod calendar;
pub mod dispatcher;
pub mod outbox;
pub mod scheduler;
