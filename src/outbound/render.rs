//! Turns a touch into the words and buttons a recipient sees, from the templates in
//! `messages/`. The only place where the outbound path meets message texts.

use std::sync::Arc;

use crate::inbound::conversation::channel_key;
use crate::messages::{Messages, Vars};
use crate::outbound::dispatcher::{Render, Rendered, TouchToSend};

pub struct TemplateRenderer {
    messages: Arc<Messages>,
}

impl TemplateRenderer {
    pub fn new(messages: Arc<Messages>) -> Self {
        TemplateRenderer { messages }
    }
}

/// Chat greetings use the first name only.
fn first_name(full: &str) -> &str {
    full.split_whitespace().next().unwrap_or(full)
}

/// The variables a touch's message is rendered with.
fn touch_vars(touch: &TouchToSend) -> Vars {
    let mut vars = Vars::new()
        .contact(first_name(&touch.recipient_name))
        .account(touch.account_name.clone())
        // Templates may name the CSM; an account without one is signed by the team.
        .csm(
            touch
                .csm_name
                .clone()
                .unwrap_or_else(|| fallback_csm(&touch.locale).to_string()),
        );
    if let Some(d) = touch.renewal_date {
        vars = vars.renewal_date(d);
    }
    if let Some(n) = touch.days_to_renewal {
        vars = vars.days_left(n.max(0));
    }
    vars
}

impl Render for TemplateRenderer {
    fn render(&self, touch: &TouchToSend) -> anyhow::Result<Rendered> {
        let vars = touch_vars(touch);
        let key = channel_key(&self.messages, touch.to.channel, &touch.template);
        let text = self.messages.render(&touch.locale, &key, &vars)?;
        let buttons = self
            .messages
            .buttons_for(touch.kind, touch.id, &touch.locale)?;
        // The registered body was numbered from the same message (`touchbot whatsapp
        // templates`), so these values land on the right numbers.
        let parameters = match &touch.as_template {
            Some(_) => {
                self.messages
                    .numbered(&touch.locale, &key, &vars)?
                    .parameters
            }
            None => Vec::new(),
        };
        Ok(Rendered {
            text,
            buttons,
            parameters,
        })
    }

    fn template_missing(&self, key: &str, name: &str, locale: &str) -> anyhow::Result<String> {
        let vars = Vars::new().template(name, key);
        Ok(self.messages.render(locale, "wa-template-missing", &vars)?)
    }
}

/// Who signs when an account has no CSM.
pub fn fallback_csm(locale: &str) -> &'static str {
    match locale {
        "ru" => "команда поддержки клиентов",
        _ => "the customer success team",
    }
}
