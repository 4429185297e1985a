//! The demo's cast: a small CS team and five accounts whose contacts behave differently.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::personas::Persona;
use crate::domain::{AccountId, ChannelKind, ContactRole, Segment, StaffRole};
use crate::outbound::calendar::CalendarConfig;
use crate::outbound::planner;
use crate::outbound::window::{Registered, ServiceWindow};
use crate::storage::{accounts, contacts, staff};
use sqlx::PgPool;

/// Who sits behind a chat address in the simulation.
#[derive(Debug, Clone)]
pub enum Party {
    Contact {
        name: String,
        account: String,
        persona: Persona,
        locale: String,
    },
    Staff {
        name: String,
    },
}

pub struct Cast {
    /// (channel, address) → who it is.
    pub parties: HashMap<(ChannelKind, String), Party>,
    pub accounts: Vec<(AccountId, String, String)>,
}

/// WhatsApp's window as the demo applies it: the templates configured in `[whatsapp]`, or,
/// when none are, every client message's, as if the team had registered them all with Meta.
pub fn whatsapp_window(settings: &crate::config::Settings) -> ServiceWindow {
    let mut window = settings.dispatcher.window.clone();
    if window.templates.is_empty() {
        window.templates = settings
            .calendar
            .client_messages()
            .into_iter()
            .map(|(key, _)| (key, Registered::default()))
            .collect();
    }
    window
}

/// A message a WhatsApp contact writes on their own: Askar asks about an invoice the evening
/// before his first NPS survey, so that survey finds WhatsApp's window open and goes as free
/// text, where his other touches go as templates. Returns (when, address, text).
pub async fn unprompted_question(
    pool: &PgPool,
) -> anyhow::Result<Option<(DateTime<Utc>, String, String)>> {
    const ASKAR: &str = "+77011230001";
    let first_nps = sqlx::query_scalar!(
        "select t.due_at from touches t join contacts c on c.id = t.contact_id
          where c.channel = 'whatsapp' and c.address = $1 and t.kind = 'nps'
            and t.status = 'planned'
          order by t.due_at limit 1",
        ASKAR
    )
    .fetch_optional(pool)
    .await?;
    Ok(first_nps.map(|due| {
        let text = "Добрый вечер! Подскажите, где найти счёт за прошлый месяц?";
        (
            due - Duration::hours(15),
            ASKAR.to_string(),
            text.to_string(),
        )
    }))
}

struct AccountSpec {
    name: &'static str,
    segment: Segment,
    arr: i64,
    /// Day 0 relative to the start of the simulation (negative: the contract began before).
    start_offset: i64,
    /// Contract length in days.
    term: i64,
    tz: &'static str,
    locale: &'static str,
    csm: &'static str,
    story: &'static str,
    contacts: &'static [(
        &'static str,
        ContactRole,
        ChannelKind,
        &'static str,
        Persona,
    )],
}

const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec {
        name: "Northwind Logistics",
        segment: Segment::Enterprise,
        arr: 180_000,
        start_offset: 5,
        term: 365,
        tz: "Asia/Almaty",
        locale: "ru",
        csm: "Aigerim Sadykova",
        story: "an enterprise client in Almaty whose people love the product",
        contacts: &[
            (
                "Askar Nurlanov",
                ContactRole::DecisionMaker,
                ChannelKind::Whatsapp,
                "+77011230001",
                Persona::Promoter,
            ),
            (
                "Dana Serikova",
                ContactRole::Champion,
                ChannelKind::Telegram,
                "5550001",
                Persona::Promoter,
            ),
        ],
    },
    AccountSpec {
        name: "Bluefin Analytics",
        segment: Segment::MidMarket,
        arr: 60_000,
        start_offset: 12,
        term: 365,
        tz: "Europe/Berlin",
        locale: "en",
        csm: "Daniel Brooks",
        story: "a mid-market client in Berlin: content, not enthusiastic",
        contacts: &[
            (
                "Jonas Weber",
                ContactRole::DecisionMaker,
                ChannelKind::Whatsapp,
                "+4915112340002",
                Persona::Passive,
            ),
            (
                "Lena Fischer",
                ContactRole::Champion,
                ChannelKind::Telegram,
                "5550002",
                Persona::OptsOut,
            ),
        ],
    },
    AccountSpec {
        name: "Cedar Health",
        segment: Segment::MidMarket,
        arr: 45_000,
        start_offset: 3,
        term: 365,
        tz: "America/New_York",
        locale: "en",
        csm: "Daniel Brooks",
        story: "a mid-market client in New York that is unhappy with the product",
        contacts: &[
            (
                "Maria Lopez",
                ContactRole::DecisionMaker,
                ChannelKind::Whatsapp,
                "+12125550003",
                Persona::Detractor,
            ),
            (
                "Tom Harris",
                ContactRole::Champion,
                ChannelKind::Telegram,
                "5550003",
                Persona::Detractor,
            ),
        ],
    },
    AccountSpec {
        name: "Quill & Co",
        segment: Segment::Smb,
        arr: 12_000,
        start_offset: 20,
        term: 365,
        tz: "UTC",
        locale: "en",
        csm: "Aigerim Sadykova",
        story: "a small client with a single contact who goes quiet after a month",
        contacts: &[(
            "Sam Patel",
            ContactRole::DecisionMaker,
            ChannelKind::Telegram,
            "5550004",
            Persona::GoesSilent,
        )],
    },
    AccountSpec {
        name: "Orbit Retail",
        segment: Segment::Smb,
        arr: 18_000,
        start_offset: -150,
        term: 240,
        tz: "Asia/Almaty",
        locale: "ru",
        csm: "Aigerim Sadykova",
        story: "enrolled late, 150 days into a contract that renews in 90 days; its contacts drift away",
        contacts: &[
            (
                "Yerzhan Akhmetov",
                ContactRole::DecisionMaker,
                ChannelKind::Whatsapp,
                "+77011230005",
                Persona::Slipping,
            ),
            (
                "Aliya Omarova",
                ContactRole::User,
                ChannelKind::Telegram,
                "5550005",
                Persona::Slipping,
            ),
        ],
    },
];

const STAFF: &[(&str, StaffRole, i64, Option<&str>)] = &[
    ("Ruslan Ibrayev", StaffRole::Vp, 9000, None),
    (
        "Marta Kovacs",
        StaffRole::CsManager,
        9001,
        Some("Ruslan Ibrayev"),
    ),
    (
        "Aigerim Sadykova",
        StaffRole::Csm,
        9002,
        Some("Marta Kovacs"),
    ),
    ("Daniel Brooks", StaffRole::Csm, 9003, Some("Marta Kovacs")),
];

/// Creates the team and the accounts, and plans every calendar as of `start`.
pub async fn seed(
    pool: &PgPool,
    calendar: &CalendarConfig,
    start: DateTime<Utc>,
) -> anyhow::Result<Cast> {
    let mut parties = HashMap::new();
    for (name, role, tg, manager) in STAFF {
        let manager_id = match manager {
            Some(m) => Some(staff::find(pool, m).await?.id),
            None => None,
        };
        staff::add(
            pool,
            &staff::NewStaff {
                name: name.to_string(),
                role: *role,
                telegram_user_id: Some(*tg),
                locale: "en".into(),
                manager_id,
            },
        )
        .await?;
        parties.insert(
            (ChannelKind::Telegram, tg.to_string()),
            Party::Staff {
                name: name.to_string(),
            },
        );
    }
    let today: NaiveDate = start.date_naive();
    let mut accounts_out = Vec::new();
    for spec in ACCOUNTS {
        let day_zero = today + Duration::days(spec.start_offset);
        let csm = staff::find(pool, spec.csm).await?;
        let account = accounts::create(
            pool,
            &accounts::NewAccount {
                name: spec.name.into(),
                segment: spec.segment,
                arr_cents: spec.arr * 100,
                contract_start: day_zero,
                go_live: None,
                renewal_date: Some(day_zero + Duration::days(spec.term)),
                csm_id: Some(csm.id),
                time_zone: spec.tz.into(),
                locale: spec.locale.into(),
            },
        )
        .await?;
        for (name, role, channel, address, persona) in spec.contacts {
            let c = contacts::add(
                pool,
                &contacts::NewContact {
                    account_id: account.id,
                    name: name.to_string(),
                    role: *role,
                    channel: *channel,
                    address: Some(address.to_string()),
                    time_zone: None,
                    locale: None,
                },
                start,
            )
            .await?;
            parties.insert(
                (c.channel, c.address.clone().unwrap_or_default()),
                Party::Contact {
                    name: name.to_string(),
                    account: spec.name.to_string(),
                    persona: *persona,
                    locale: spec.locale.to_string(),
                },
            );
        }
        planner::replan_account(pool, calendar, account.id, start).await?;
        accounts_out.push((account.id, spec.name.to_string(), spec.story.to_string()));
    }
    Ok(Cast {
        parties,
        accounts: accounts_out,
    })
}
