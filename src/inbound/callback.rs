//! The data behind a quick-reply button: `nps:<touch_id>:<score>`, `csat:<touch_id>:<score>`,
//! `checkin:<touch_id>:good|help|manager`. The touch id makes a tap self-describing, so it is
//! matched to its survey however late it arrives. Only the exact form we write is accepted:
//! the data comes back from the client's device and is checked like any other input.

use crate::domain::TouchId;

use super::parser::{CheckinAnswer, Scale};

/// Telegram's limit on callback data.
pub const MAX_CALLBACK_BYTES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackAnswer {
    Nps(u8),
    Csat(u8),
    Checkin(CheckinAnswer),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Callback {
    pub touch_id: TouchId,
    pub answer: CallbackAnswer,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("button data is not one of ours: {0}")]
pub struct CallbackError(&'static str);

impl Callback {
    pub fn encode(&self) -> String {
        let id = self.touch_id.0;
        match self.answer {
            CallbackAnswer::Nps(score) => format!("nps:{id}:{score}"),
            CallbackAnswer::Csat(score) => format!("csat:{id}:{score}"),
            CallbackAnswer::Checkin(answer) => format!("checkin:{id}:{}", answer.as_str()),
        }
    }
}

pub fn parse_callback(data: &str) -> Result<Callback, CallbackError> {
    if data.len() > MAX_CALLBACK_BYTES {
        return Err(CallbackError("longer than 64 bytes"));
    }
    let mut parts = data.split(':');
    let (Some(kind), Some(id), Some(value), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CallbackError("expected kind:touch_id:answer"));
    };
    let touch_id = TouchId(canonical_number(id).ok_or(CallbackError("bad touch id"))?);
    if touch_id.0 <= 0 {
        return Err(CallbackError("bad touch id"));
    }
    let score = |scale: Scale| {
        canonical_number(value)
            .and_then(|n| u8::try_from(n).ok())
            .filter(|n| scale.range().contains(n))
            .ok_or(CallbackError("score out of range"))
    };
    let answer = match kind {
        "nps" => CallbackAnswer::Nps(score(Scale::Nps)?),
        "csat" => CallbackAnswer::Csat(score(Scale::Csat)?),
        "checkin" => CallbackAnswer::Checkin(
            CheckinAnswer::from_str_exact(value).ok_or(CallbackError("unknown check-in answer"))?,
        ),
        _ => return Err(CallbackError("unknown kind")),
    };
    Ok(Callback { touch_id, answer })
}

/// Plain decimal digits without sign or leading zeros ("0" itself is fine), so every
/// accepted string is exactly what `encode` would write.
fn canonical_number(s: &str) -> Option<i64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_nps_tap_names_its_touch_and_score() {
        assert_eq!(
            parse_callback("nps:12:9"),
            Ok(Callback {
                touch_id: TouchId(12),
                answer: CallbackAnswer::Nps(9)
            })
        );
        assert_eq!(
            parse_callback("nps:12:0").unwrap().answer,
            CallbackAnswer::Nps(0)
        );
    }

    #[test]
    fn a_checkin_tap_names_the_answer() {
        assert_eq!(
            parse_callback("checkin:5:manager").unwrap().answer,
            CallbackAnswer::Checkin(CheckinAnswer::Manager)
        );
    }

    #[test]
    fn malformed_data_is_rejected() {
        for bad in [
            "",
            "nps",
            "nps:12",
            "nps:12:11",
            "nps:12:-1",
            "nps:12:08",
            "nps:012:8",
            "nps:+12:8",
            "nps:0:8",
            "nps:abc:8",
            "nps:12:8:extra",
            "csat:12:0",
            "csat:12:6",
            "checkin:12:great",
            "checkin:12:Good",
            "vote:12:1",
            "nps:99999999999999999999:1",
            "NPS:12:8",
        ] {
            assert!(parse_callback(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn data_over_telegrams_limit_is_rejected() {
        let long = format!("checkin:{}:good", "1".repeat(60));
        assert!(parse_callback(&long).is_err());
    }

    fn any_answer() -> impl Strategy<Value = CallbackAnswer> {
        prop_oneof![
            (0u8..=10).prop_map(CallbackAnswer::Nps),
            (1u8..=5).prop_map(CallbackAnswer::Csat),
            prop::sample::select(CheckinAnswer::ALL.to_vec()).prop_map(CallbackAnswer::Checkin),
        ]
    }

    proptest! {
        #[test]
        fn every_button_we_make_parses_back_to_itself(id in 1i64..=i64::MAX, answer in any_answer()) {
            let callback = Callback { touch_id: TouchId(id), answer };
            let data = callback.encode();
            prop_assert!(data.len() <= MAX_CALLBACK_BYTES);
            prop_assert_eq!(parse_callback(&data), Ok(callback));
        }

        #[test]
        fn whatever_is_accepted_is_exactly_what_we_would_write(data in "\\PC{0,70}") {
            if let Ok(callback) = parse_callback(&data) {
                prop_assert_eq!(callback.encode(), data);
            }
        }

        #[test]
        fn near_misses_are_accepted_only_in_canonical_form(data in "(nps|csat|checkin):[0-9+-]{0,4}:[0-9a-z]{0,8}") {
            if let Ok(callback) = parse_callback(&data) {
                prop_assert_eq!(callback.encode(), data);
            }
        }
    }
}
