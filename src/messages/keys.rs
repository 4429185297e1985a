//! Every template the code may ask for, and the variables each one is allowed to use.
//!
//! The table is the contract between the code that fills variables and the translators who
//! write `messages/*.ftl`: a template that uses a variable its caller never supplies would
//! render a `{$x}` placeholder in a client's chat, so `Messages::load` refuses it at start-up.

use super::Var;

/// Variables any template may use; callers always know who they talk to and about what.
pub const COMMON_VARS: &[Var] = &[Var::Contact, Var::Account, Var::Csm];

/// Button labels are rendered without any variables.
const NO_VARS: &[Var] = &[];
const WITH_LINK: &[Var] = &[Var::Contact, Var::Account, Var::Csm, Var::Link];
const WITH_WEEK: &[Var] = &[Var::Contact, Var::Account, Var::Csm, Var::Week, Var::Link];
const TEMPLATE_NOTICE: &[Var] = &[Var::TemplateKey, Var::TemplateName];
const WITH_SCORE: &[Var] = &[Var::Contact, Var::Account, Var::Csm, Var::Score];
const RENEWAL: &[Var] = &[
    Var::Contact,
    Var::Account,
    Var::Csm,
    Var::DaysLeft,
    Var::RenewalDate,
    Var::Link,
];

/// (key, allowed variables). Keys not listed here may exist in the files but can only use
/// [`COMMON_VARS`].
const TABLE: &[(&str, &[Var])] = &[
    // Client-facing touches, named by the calendar's `template` column.
    ("welcome", WITH_LINK),
    ("checkin-week-1", WITH_WEEK),
    ("checkin-week-2", WITH_WEEK),
    ("checkin-week-3", WITH_WEEK),
    ("checkin-week-4", WITH_WEEK),
    ("checkin", WITH_LINK),
    ("checkpoint-30", WITH_LINK),
    ("review-90", WITH_LINK),
    ("qbr", WITH_LINK),
    ("nps", COMMON_VARS),
    ("csat", COMMON_VARS),
    ("renewal-90", RENEWAL),
    ("renewal-60", RENEWAL),
    ("renewal-30", RENEWAL),
    ("renewal-7", RENEWAL),
    // Internal reminders to the CSM.
    ("task-checkpoint-30", WITH_LINK),
    ("task-review-90", WITH_LINK),
    ("task-renewal-120", RENEWAL),
    ("task-renewal-90", RENEWAL),
    ("task-renewal-60", RENEWAL),
    ("task-renewal-30", RENEWAL),
    ("task-renewal-7", RENEWAL),
    // Quick-reply labels: rendered without variables.
    ("checkin-reply-good", NO_VARS),
    ("checkin-reply-help", NO_VARS),
    ("checkin-reply-manager", NO_VARS),
    // The bot's answers to what a contact sent.
    ("nps-thanks-promoter", WITH_SCORE),
    ("nps-thanks-passive", WITH_SCORE),
    ("nps-thanks-detractor", WITH_SCORE),
    ("nps-ask-why", WITH_SCORE),
    ("nps-reask", COMMON_VARS),
    ("csat-thanks", WITH_SCORE),
    ("checkin-thanks", COMMON_VARS),
    ("checkin-help-ack", COMMON_VARS),
    ("optout-confirm", COMMON_VARS),
    ("optin-confirm", COMMON_VARS),
    ("fallback-forwarded", COMMON_VARS),
    // Telegram: joining by link, commands, buttons. Texts for someone the bot does not know
    // yet (or about a language, or a button) take no variables.
    ("tg-joined", COMMON_VARS),
    ("tg-join-already", COMMON_VARS),
    ("tg-join-expired", NO_VARS),
    ("tg-join-invalid", NO_VARS),
    ("tg-join-chat-taken", NO_VARS),
    ("tg-stranger", NO_VARS),
    ("tg-start-again", COMMON_VARS),
    ("tg-help", COMMON_VARS),
    ("tg-language-choose", NO_VARS),
    ("tg-language-set", NO_VARS),
    ("language-name", NO_VARS),
    ("tg-already-answered", NO_VARS),
    ("tg-button-stale", NO_VARS),
    // WhatsApp: a touch's own wording there, and the team's notice of a missing template.
    ("wa-nps", COMMON_VARS),
    ("wa-template-missing", TEMPLATE_NOTICE),
];

/// Every key the program uses; each must exist in every locale.
pub fn required_keys() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(key, _)| *key)
}

/// The variables a template may use.
pub fn allowed_vars(key: &str) -> &'static [Var] {
    let listed = |key: &str| TABLE.iter().find(|(k, _)| *k == key).map(|(_, vars)| *vars);
    listed(key)
        .or_else(|| {
            // A channel's own wording (`wa-nps-reask`, `wa-help`) is filled by the caller of
            // the text it stands for (`nps-reask`, `tg-help`), so it gets the same variables.
            let base = key.strip_prefix("wa-")?;
            listed(base).or_else(|| listed(&format!("tg-{base}")))
        })
        .unwrap_or(COMMON_VARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_templates_may_count_the_days_but_a_welcome_may_not() {
        assert!(allowed_vars("renewal-30").contains(&Var::DaysLeft));
        assert!(!allowed_vars("welcome").contains(&Var::DaysLeft));
    }

    #[test]
    fn a_whatsapp_wording_may_use_only_what_its_telegram_text_may() {
        assert!(allowed_vars("wa-stranger").is_empty());
        assert_eq!(allowed_vars("wa-help"), allowed_vars("tg-help"));
        assert_eq!(allowed_vars("wa-nps"), allowed_vars("nps"));
    }

    #[test]
    fn an_unlisted_key_gets_only_the_common_variables() {
        assert_eq!(allowed_vars("something-new"), COMMON_VARS);
    }

    #[test]
    fn no_key_is_listed_twice() {
        let mut keys: Vec<_> = required_keys().collect();
        let before = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), before);
    }
}
