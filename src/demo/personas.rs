//! How each simulated client contact behaves: whether and how they answer a touch. Pure and
//! seeded, so the demo tells the same story on every run.

use chrono::Duration;
use rand::Rng;
use rand::rngs::StdRng;

use crate::domain::TouchKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persona {
    /// Answers quickly and warmly; NPS 9-10.
    Promoter,
    /// Answers most touches; NPS 7-8.
    Passive,
    /// Unhappy: NPS 2-5 with a reason, asks for help at check-ins.
    Detractor,
    /// Answers for the first month, then never again.
    GoesSilent,
    /// Answers half-heartedly, then blocks the bot after a few touches.
    Slipping,
    /// Answers, but opts out of surveys after the first one.
    OptsOut,
}

/// What a contact does with a message: answer it after a while, or block the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {
    Ignore,
    Reply {
        after: Duration,
        text: String,
    },
    /// Blocks the bot: every later send to them fails for good.
    Block,
}

/// The context a persona reacts to.
pub struct Touch<'a> {
    pub kind: TouchKind,
    pub day: i64,
    pub locale: &'a str,
    /// How many touches this contact received before this one.
    pub seen: usize,
}

fn pick<'a>(rng: &mut StdRng, options: &[&'a str]) -> &'a str {
    options[rng.random_range(0..options.len())]
}

fn later(rng: &mut StdRng, min_minutes: i64, max_minutes: i64) -> Duration {
    Duration::minutes(rng.random_range(min_minutes..=max_minutes))
}

impl Persona {
    pub fn react(self, touch: &Touch, rng: &mut StdRng) -> Reaction {
        let ru = touch.locale == "ru";
        let reply = |after: Duration, text: &str| Reaction::Reply {
            after,
            text: text.to_string(),
        };
        match touch.kind {
            TouchKind::Nps => self.nps(touch, ru, rng),
            TouchKind::Qbr => match self {
                Persona::Promoter | Persona::Passive | Persona::Detractor => reply(
                    later(rng, 60, 600),
                    if ru {
                        "давайте в четверг после обеда"
                    } else {
                        "Thursday afternoon works for us"
                    },
                ),
                _ => Reaction::Ignore,
            },
            TouchKind::Checkin => match self {
                Persona::Promoter => reply(
                    later(rng, 20, 180),
                    if ru {
                        "всё хорошо"
                    } else {
                        "all good"
                    },
                ),
                Persona::Passive | Persona::OptsOut if rng.random_bool(0.7) => reply(
                    later(rng, 60, 600),
                    if ru {
                        "всё хорошо"
                    } else {
                        "all good"
                    },
                ),
                Persona::Detractor => reply(
                    later(rng, 30, 240),
                    if ru {
                        "нужна помощь"
                    } else {
                        "need help"
                    },
                ),
                Persona::GoesSilent if touch.day <= 30 => reply(
                    later(rng, 60, 300),
                    if ru {
                        "всё хорошо"
                    } else {
                        "all good"
                    },
                ),
                Persona::Slipping if touch.seen >= 3 => Reaction::Block,
                Persona::Slipping if rng.random_bool(0.5) => reply(
                    later(rng, 300, 1400),
                    if ru {
                        "нужна помощь"
                    } else {
                        "need help"
                    },
                ),
                _ => Reaction::Ignore,
            },
            // Renewal notices and the welcome are read, not answered.
            _ => Reaction::Ignore,
        }
    }

    fn nps(self, touch: &Touch, ru: bool, rng: &mut StdRng) -> Reaction {
        let after = later(rng, 30, 400);
        let text = match self {
            Persona::Promoter => {
                if ru {
                    pick(rng, &["10", "девять", "10 — отличная команда"]).to_string()
                } else {
                    pick(rng, &["10", "9", "9, great support"]).to_string()
                }
            }
            Persona::Passive => {
                if ru {
                    pick(rng, &["8", "7 из 10"]).to_string()
                } else {
                    pick(rng, &["8", "7/10", "eight"]).to_string()
                }
            }
            Persona::Detractor => {
                if ru {
                    pick(rng, &["4 — отчёты постоянно падают", "3"]).to_string()
                } else {
                    pick(
                        rng,
                        &[
                            "4 - the reports keep timing out",
                            "3",
                            "5, onboarding took far too long",
                        ],
                    )
                    .to_string()
                }
            }
            Persona::GoesSilent if touch.day <= 30 => "8".to_string(),
            Persona::GoesSilent => return Reaction::Ignore,
            Persona::Slipping if touch.seen >= 3 => return Reaction::Block,
            Persona::Slipping => "6".to_string(),
            Persona::OptsOut if touch.seen > 3 => if ru { "стоп" } else { "stop" }.to_string(),
            Persona::OptsOut => "9".to_string(),
        };
        Reaction::Reply { after, text }
    }

    /// The reason a contact gives when the bot asks why after a bare score.
    pub fn reason(self, ru: bool) -> Option<&'static str> {
        match (self, ru) {
            (Persona::Promoter, false) => Some("Your team answers within the hour, every time."),
            (Persona::Promoter, true) => Some("Команда всегда отвечает в течение часа."),
            (Persona::Detractor, false) => Some("Exports fail twice a week and nobody follows up."),
            (Persona::Detractor, true) => Some("Выгрузки падают дважды в неделю."),
            (Persona::Passive, false) => Some("Solid, but the mobile app lags behind."),
            (Persona::Passive, true) => Some("Неплохо, но мобильное приложение отстаёт."),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn touch(kind: TouchKind, day: i64) -> Touch<'static> {
        Touch {
            kind,
            day,
            locale: "en",
            seen: 2,
        }
    }

    #[test]
    fn a_silent_contact_stops_answering_after_the_first_month() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!(matches!(
            Persona::GoesSilent.react(&touch(TouchKind::Checkin, 14), &mut rng),
            Reaction::Reply { .. }
        ));
        assert_eq!(
            Persona::GoesSilent.react(&touch(TouchKind::Nps, 90), &mut rng),
            Reaction::Ignore
        );
    }

    #[test]
    fn a_slipping_contact_blocks_the_bot_after_a_few_touches() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut t = touch(TouchKind::Nps, 120);
        t.seen = 1;
        assert!(matches!(
            Persona::Slipping.react(&t, &mut rng),
            Reaction::Reply { .. }
        ));
        t.seen = 3;
        assert_eq!(Persona::Slipping.react(&t, &mut rng), Reaction::Block);
    }

    #[test]
    fn nobody_answers_a_renewal_notice() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            Persona::Promoter.react(&touch(TouchKind::Renewal, 300), &mut rng),
            Reaction::Ignore
        );
    }
}
