//! Quick-reply buttons for the touches that expect an answer.

use crate::channel::Button;
use crate::domain::{TouchId, TouchKind};
use crate::inbound::{Callback, CallbackAnswer, CheckinAnswer, Scale};

use super::{Messages, MessagesError, Vars};

/// NPS buttons split 0-5 / 6-10, so each row stays readable on a phone.
const NPS_FIRST_ROW: usize = 6;

impl Messages {
    /// The buttons to attach to a touch of `kind`: the 0-10 scale for NPS, 1-5 for CSAT,
    /// the three quick replies for a check-in, none for anything else. Each button's data
    /// names the touch, so a tap is matched to it however late it comes.
    pub fn buttons_for(
        &self,
        kind: TouchKind,
        touch_id: TouchId,
        locale: &str,
    ) -> Result<Vec<Vec<Button>>, MessagesError> {
        let button = |answer: CallbackAnswer, label: String| Button {
            label,
            data: Callback { touch_id, answer }.encode(),
        };
        let scale = |scale: Scale, answer: fn(u8) -> CallbackAnswer| -> Vec<Button> {
            scale
                .range()
                .map(|score| button(answer(score), score.to_string()))
                .collect()
        };
        Ok(match kind {
            TouchKind::Nps => {
                let mut first = scale(Scale::Nps, CallbackAnswer::Nps);
                let second = first.split_off(NPS_FIRST_ROW);
                vec![first, second]
            }
            TouchKind::Csat => vec![scale(Scale::Csat, CallbackAnswer::Csat)],
            TouchKind::Checkin => {
                let mut row = Vec::new();
                for answer in CheckinAnswer::ALL {
                    let label = self.render(locale, answer.label_key(), &Vars::new())?;
                    row.push(button(CallbackAnswer::Checkin(*answer), label));
                }
                // One per row: the labels are phrases, too long to sit side by side.
                row.into_iter().map(|b| vec![b]).collect()
            }
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::parse_callback;

    fn messages() -> Messages {
        Messages::load().expect("embedded templates load")
    }

    #[test]
    fn an_nps_survey_offers_eleven_scores_in_two_rows() {
        let rows = messages()
            .buttons_for(TouchKind::Nps, TouchId(42), "en")
            .unwrap();
        let labels: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| r.iter().map(|b| b.label.as_str()).collect())
            .collect();
        assert_eq!(
            labels,
            vec![
                vec!["0", "1", "2", "3", "4", "5"],
                vec!["6", "7", "8", "9", "10"]
            ]
        );
        assert_eq!(rows[1][4].data, "nps:42:10");
    }

    #[test]
    fn a_csat_survey_offers_one_to_five() {
        let rows = messages()
            .buttons_for(TouchKind::Csat, TouchId(7), "ru")
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].first().unwrap().data, "csat:7:1");
        assert_eq!(rows[0].last().unwrap().data, "csat:7:5");
    }

    #[test]
    fn a_checkin_offers_the_three_quick_replies_in_the_contacts_language() {
        let rows = messages()
            .buttons_for(TouchKind::Checkin, TouchId(3), "ru")
            .unwrap();
        let data: Vec<&str> = rows.iter().map(|r| r[0].data.as_str()).collect();
        assert_eq!(
            data,
            vec!["checkin:3:good", "checkin:3:help", "checkin:3:manager"]
        );
        let english = messages()
            .buttons_for(TouchKind::Checkin, TouchId(3), "en")
            .unwrap();
        assert_ne!(rows[0][0].label, english[0][0].label);
    }

    #[test]
    fn a_renewal_notice_has_no_buttons() {
        let rows = messages()
            .buttons_for(TouchKind::Renewal, TouchId(1), "en")
            .unwrap();
        assert!(rows.is_empty());
    }

    #[test]
    fn every_button_fits_telegram_and_parses_back() {
        let messages = messages();
        for kind in [TouchKind::Nps, TouchKind::Csat, TouchKind::Checkin] {
            for row in messages.buttons_for(kind, TouchId(i64::MAX), "en").unwrap() {
                for button in row {
                    assert!(button.data.len() <= 64, "{} is too long", button.data);
                    let parsed = parse_callback(&button.data).unwrap();
                    assert_eq!(parsed.touch_id, TouchId(i64::MAX));
                }
            }
        }
    }
}
