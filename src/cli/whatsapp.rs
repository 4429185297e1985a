//! `touchbot whatsapp …`: what the WhatsApp channel needs from the operator.

use clap::Subcommand;

use crate::config::Settings;
use crate::messages::Messages;
use crate::storage::StoreError;
use crate::whatsapp::templates;

#[derive(Debug, Subcommand)]
pub enum WhatsappCommand {
    /// Print the message templates to register with Meta, generated from the bot's texts:
    /// name, category, language, body with numbered parameters, quick replies.
    Templates {
        /// Only this locale (en, ru); all of them when omitted.
        #[arg(long)]
        locale: Option<String>,
    },
}

pub fn run(settings: &Settings, command: WhatsappCommand) -> anyhow::Result<()> {
    match command {
        WhatsappCommand::Templates { locale } => {
            print!("{}", templates_text(settings, locale.as_deref())?);
            Ok(())
        }
    }
}

/// The whole printout, for one locale or all.
pub fn templates_text(settings: &Settings, locale: Option<&str>) -> anyhow::Result<String> {
    let messages = Messages::load()?;
    let known = messages.locales();
    let locales: Vec<&str> = match locale {
        Some(wanted) => {
            let wanted = wanted.trim();
            let Some(found) = known.iter().find(|l| l.eq_ignore_ascii_case(wanted)) else {
                return Err(StoreError::Invalid(format!(
                    "'{wanted}' is not a language the bot writes in; use one of: {}",
                    known.join(", ")
                ))
                .into());
            };
            vec![*found]
        }
        None => known.clone(),
    };
    let mut out = String::new();
    for locale in locales {
        let definitions =
            templates::definitions(&messages, &settings.calendar, &settings.whatsapp, locale)?;
        out.push_str(&templates::print(locale, &definitions));
    }
    out.push_str(templates::NOTES);
    Ok(out)
}
