//! Unit tests of the escalation core, one file per part, named as the sentences a CSM would
//! agree with.
