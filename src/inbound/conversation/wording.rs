//! Which wording a channel gets: texts about the chat itself and answers that mention
//! buttons or commands have a WhatsApp version (`wa-<key>`) where Telegram's would not fit,
//! and the words that stand for commands on a channel without any.

use crate::domain::ChannelKind;
use crate::inbound::parser::normalize;
use crate::messages::Messages;

/// The key of a text about the chat itself (help, strangers, stale buttons), in `channel`'s
/// own wording (see [`channel_key`]), else the Telegram wording `tg-<name>`, which every
/// channel falls back to.
pub fn chat_key(messages: &Messages, channel: ChannelKind, name: &str) -> String {
    own_key(messages, channel, name).unwrap_or_else(|| format!("tg-{name}"))
}

/// `key` in `channel`'s own wording: `wa-<key>` for WhatsApp once `messages/` has it in every
/// locale, else `key` itself. For texts every channel shares but some word differently (an
/// answer that says "tap a button", or "send /stop", which WhatsApp has no commands for).
pub fn channel_key(messages: &Messages, channel: ChannelKind, key: &str) -> String {
    own_key(messages, channel, key).unwrap_or_else(|| key.to_string())
}

fn own_key(messages: &Messages, channel: ChannelKind, name: &str) -> Option<String> {
    let own = match channel {
        ChannelKind::Whatsapp => format!("wa-{name}"),
        ChannelKind::Telegram | ChannelKind::Simulated => return None,
    };
    messages.check_templates(&[&own]).is_ok().then_some(own)
}

/// The words that act as commands where a platform has no commands of its own (WhatsApp):
/// a message that is only one of them, read as the reply parser reads "stop" (any case,
/// punctuation ignored, a leading `/` allowed), is that command. Anything longer ("help me
/// with the invoice") is an ordinary message for the CSM.
const COMMAND_WORDS: &[(&str, &str)] = &[
    ("help", "help"),
    ("помощь", "help"),
    ("language", "language"),
    ("язык", "language"),
];

/// The command a message names by a word alone ("Help", "язык!"), for channels without slash
/// commands: `"help"` or `"language"`, as [`Arrival::command`] takes them.
pub fn command_word(text: &str) -> Option<&'static str> {
    let norm = normalize(text);
    let word = norm.strip_prefix('/').unwrap_or(&norm);
    COMMAND_WORDS
        .iter()
        .find(|(said, _)| *said == word)
        .map(|(_, command)| *command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Vars;

    #[test]
    fn whatsapp_gets_its_own_wording_where_messages_has_it_and_telegrams_elsewhere() {
        let messages = Messages::load().unwrap();
        let key = |channel, name| chat_key(&messages, channel, name);

        assert_eq!(key(ChannelKind::Whatsapp, "stranger"), "wa-stranger");
        assert_eq!(key(ChannelKind::Whatsapp, "help"), "wa-help");
        assert_eq!(key(ChannelKind::Telegram, "stranger"), "tg-stranger");
        // Joining by link is Telegram's alone: no WhatsApp wording, Telegram's stands.
        assert_eq!(
            key(ChannelKind::Whatsapp, "join-expired"),
            "tg-join-expired"
        );
    }

    #[test]
    fn answers_that_mention_buttons_or_commands_are_worded_for_whatsapp_and_others_are_shared() {
        let messages = Messages::load().unwrap();
        let key = |channel, name| channel_key(&messages, channel, name);

        assert_eq!(key(ChannelKind::Whatsapp, "nps-reask"), "wa-nps-reask");
        assert_eq!(
            key(ChannelKind::Whatsapp, "optout-confirm"),
            "wa-optout-confirm"
        );
        assert_eq!(key(ChannelKind::Whatsapp, "nps-ask-why"), "nps-ask-why");
        assert_eq!(key(ChannelKind::Telegram, "nps-reask"), "nps-reask");
        assert_eq!(
            key(ChannelKind::Simulated, "optin-confirm"),
            "optin-confirm"
        );
    }

    #[test]
    fn no_whatsapp_answer_tells_the_client_to_tap_or_send_a_slash_command() {
        let messages = Messages::load().unwrap();
        let vars = Vars::new().contact("Aigerim").csm("Dina").account("Steppe");
        for key in ["nps-reask", "optout-confirm", "optin-confirm"] {
            for locale in messages.locales() {
                let key = channel_key(&messages, ChannelKind::Whatsapp, key);
                let text = messages.render(locale, &key, &vars).unwrap();
                assert!(!text.contains('/'), "{key} ({locale}): {text}");
                assert!(!text.contains("tap") && !text.contains("нажмите"), "{text}");
            }
        }
    }

    #[test]
    fn a_word_alone_is_a_command_in_either_language_and_a_sentence_is_not() {
        assert_eq!(command_word("help"), Some("help"));
        assert_eq!(command_word("  Help! "), Some("help"));
        assert_eq!(command_word("/help"), Some("help"));
        assert_eq!(command_word("Помощь"), Some("help"));
        assert_eq!(command_word("LANGUAGE"), Some("language"));
        assert_eq!(command_word("язык."), Some("language"));
        assert_eq!(command_word("help me with the invoice"), None);
        assert_eq!(
            command_word("stop"),
            None,
            "stop is an opt-out, read by the parser"
        );
        assert_eq!(command_word(""), None);
    }
}
