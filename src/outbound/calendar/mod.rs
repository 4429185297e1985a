//! The touch calendar: a pure core deciding what is due for whom, and when.
