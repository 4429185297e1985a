//! `touchbot demo`: a year of five sample accounts in accelerated time, through the real
//! calendar, outbox, dispatcher and inbound code, with simulated contacts answering.
//! Only the clock and the chat platforms are simulated.

mod database;
mod personas;
mod scenario;
mod timeline;
mod usage;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sqlx::PgPool;

use crate::channel::Channels;
use crate::channel::ratelimit::{ChannelLimit, RateLimits};
use crate::channel::simulated::SimulatedChannel;
use crate::cli::DemoArgs;
use crate::config::Settings;
use crate::domain::{ChannelKind, TouchKind};
use crate::inbound::{InboundContent, InboundMessage, InboundOutcome, Judge, reassess, receive};
use crate::messages::Messages;
use crate::outbound::dispatcher::{self, DispatcherConfig};
use crate::outbound::planner;
use crate::outbound::render::TemplateRenderer;
use personas::Reaction;
use scenario::Party;
use timeline::Timeline;

/// The simulated Telegram group of the CS team.
const DEMO_TEAM_CHAT: &str = "-1001000000001";

/// A contact's message on its way to the bot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    at: DateTime<Utc>,
    channel: ChannelKind,
    address: String,
    text: String,
    /// The CSM answers this one within the hour and gives the chat back to the bot.
    hand_back: bool,
}

pub async fn run(settings: Settings, args: DemoArgs) -> anyhow::Result<()> {
    let db = database::prepare(&settings, &args.database_name).await?;
    println!(
        "touchbot demo: a year of customer success in accelerated time.\nDatabase: {}{}\n",
        db.shown,
        if db.is_private() {
            " (a private PostgreSQL started for this run)"
        } else {
            ""
        }
    );
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect_with(db.options.clone())
        .await
        .context("could not connect to the demo database")?;
    crate::db::migrate(&pool).await?;
    let messages = Arc::new(Messages::load().context("the message templates are broken")?);
    crate::app::check_templates(&settings, &messages)?;

    let start = Utc.from_utc_datetime(
        &Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight"),
    );
    let end = start + Duration::days(i64::from(args.days));
    let cast = scenario::seed(&pool, &settings.calendar, start).await?;
    // The CS team's group chat, where escalation cards land.
    crate::storage::team_chat::bind(&pool, ChannelKind::Telegram, DEMO_TEAM_CHAT, None, start)
        .await?;
    println!("The accounts:");
    for (_, name, story) in &cast.accounts {
        println!("  - {name}: {story}");
    }
    println!();

    // Accelerated time: the platforms' pacing is measured in real seconds, so it is lifted.
    let config = DispatcherConfig {
        rate_limits: RateLimits {
            telegram: ChannelLimit::unlimited(),
            whatsapp: ChannelLimit::unlimited(),
            simulated: ChannelLimit::unlimited(),
        },
        window: scenario::whatsapp_window(&settings),
        ..settings.dispatcher.clone()
    };
    let whatsapp = Arc::new(SimulatedChannel::new().with_kind(ChannelKind::Whatsapp));
    let telegram = Arc::new(SimulatedChannel::new().with_kind(ChannelKind::Telegram));
    let channels = Channels::new(config.rate_limits.clone())
        .with(whatsapp.clone())
        .with(telegram.clone());
    let renderer = TemplateRenderer::new(messages.clone());

    let mut sim = Simulation {
        pool: &pool,
        timeline: Timeline::new(args.verbose),
        rng: StdRng::seed_from_u64(2026),
        pending: BinaryHeap::new(),
        inbound_seq: 0,
        seen: Default::default(),
        announced_unreachable: HashSet::new(),
        cursor: [0, 0],
        crash_planned: true,
        duplicates_ignored: 0,
    };
    if let Some((at, address, text)) = scenario::unprompted_question(&pool).await? {
        sim.pending.push(Reverse(Pending {
            at,
            channel: ChannelKind::Whatsapp,
            address,
            text,
            hand_back: true,
        }));
    }

    let mut now = start;
    let mut next_replan = start + Duration::days(1);
    let mut month = 0;
    loop {
        let next_touch = next_due(&pool, now).await?;
        let next_reply = sim.pending.peek().map(|Reverse(p)| p.at);
        let next = [Some(next_replan), next_touch, next_reply]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end);
        if next >= end {
            break;
        }
        now = next.max(now);

        while let Some(Reverse(p)) = sim.pending.peek().cloned() {
            if p.at > now {
                break;
            }
            sim.pending.pop();
            sim.receive(&cast, &messages, Judge::from(&settings), p)
                .await?;
        }
        if now >= next_replan {
            // The nightly job: rescue stuck sends, then re-plan with what changed.
            let (_, reconciled) = dispatcher::rescue_and_reconcile(&pool, &channels, now).await?;
            if reconciled.sent > 0 {
                sim.timeline.note(
                    now,
                    &format!(
                        "recovery: {} send(s) left unclear by the crash were confirmed as delivered by the channel and marked sent, not repeated",
                        reconciled.sent
                    ),
                );
            }
            planner::replan_all(&pool, &settings.calendar, now).await?;
            if now >= start + Duration::days(30 * i64::from(month)) {
                usage::feed_month(&pool, &cast.accounts, month, now).await?;
                month += 1;
            }
            reassess(&pool, Judge::from(&settings), now, "nightly", None).await?;
            crate::escalation::tick::tick(&pool, &settings.escalation, now).await?;
            sim.csms_work(now).await?;
            crate::staff_posts::digest::compose_daily_digests(
                &pool,
                settings.escalation.sla.time_zone,
                settings.digest.daily_at,
                now,
            )
            .await?;
            next_replan = now + Duration::days(1);
        }

        if sim.crash_planned && now > start + Duration::days(100) {
            // Once, mid-year: the worker dies after the channel accepted a message and before
            // it could record the send.
            if let Some(address) = sim.next_recipient_address(&pool, now).await? {
                whatsapp.crash_after_delivery(&address);
                telegram.crash_after_delivery(&address);
                sim.crash_planned = false;
                let pass = tokio::time::timeout(
                    std::time::Duration::from_secs(2),
                    dispatcher::deliver_due(&pool, &channels, &renderer, &config, "demo", now),
                )
                .await;
                if pass.is_err() {
                    // The demo's clock runs far ahead of the database's, on which leases
                    // expire: declare the dead pass's leases over, as its lapse would.
                    crate::outbound::outbox::expire_leases_of(&pool, "demo").await?;
                    sim.timeline.note(
                        now,
                        "crash: the dispatcher died in the middle of a send; the touch stays leased until its lease expires",
                    );
                }
            }
        }
        dispatcher::deliver_due(&pool, &channels, &renderer, &config, "demo", now).await?;
        crate::staff_posts::dispatcher::deliver_due_posts(&pool, &channels, &config, "demo", now)
            .await?;
        sim.collect_sent(&cast, &[&whatsapp, &telegram], now)
            .await?;
        sim.announce_unreachable(now).await?;
    }

    println!("{}", sim.timeline.render());
    let sent_twice = [&whatsapp, &telegram]
        .iter()
        .flat_map(|c| c.sent())
        .fold(std::collections::HashMap::new(), |mut m, s| {
            *m.entry(s.message.idempotency_key).or_insert(0) += 1;
            m
        })
        .values()
        .filter(|n| **n > 1)
        .count();
    let touches_on_whatsapp: Vec<bool> = whatsapp
        .sent()
        .iter()
        .filter(|s| s.message.idempotency_key.starts_with("touch:"))
        .map(|s| s.message.template.is_some())
        .collect();
    let as_templates = touches_on_whatsapp.iter().filter(|t| **t).count();
    let forms = (as_templates, touches_on_whatsapp.len() - as_templates);
    summary(
        &pool,
        (start, end),
        sent_twice,
        sim.duplicates_ignored,
        forms,
    )
    .await?;
    escalation_summary(&pool).await?;
    let portfolio = crate::status::portfolio(&pool, end).await?;
    println!("{}", crate::status::render_portfolio(&portfolio));
    // The account a manager would open first: the lowest health, with its reasons.
    if let Some(worst) = portfolio
        .accounts
        .iter()
        .filter(|a| a.health.as_ref().and_then(|h| h.score).is_some())
        .min_by_key(|a| a.health.as_ref().and_then(|h| h.score))
    {
        println!(
            "The account to look at first:\n{}",
            crate::status::render_account(worst)
        );
    }
    if !db.is_private() {
        println!(
            "The demo's data stays in the database {} until the next run.",
            db.shown
        );
    }
    Ok(())
}

/// What reached the CS team over the year, and what is still open.
async fn escalation_summary(pool: &PgPool) -> anyhow::Result<()> {
    let by_reason = sqlx::query!(
        r#"select reason, count(*) as "n!", count(*) filter (where status <> 'resolved') as "open!",
                  count(*) filter (where recovered_at is not null) as "recovered!"
             from escalations group by reason order by 2 desc, 1"#
    )
    .fetch_all(pool)
    .await?;
    let posts = sqlx::query!(
        r#"select count(*) filter (where staff_id is null) as "team!",
                  count(*) filter (where staff_id is not null) as "private!",
                  count(*) filter (where kind = 'digest') as "digests!",
                  count(*) filter (where kind = 'ladder' and staff_id is null) as "ladder!",
                  count(*) filter (where kind = 'sla_breach' and staff_id is null) as "sla!"
             from staff_posts where status = 'sent'"#
    )
    .fetch_one(pool)
    .await?;
    println!("Escalations over the year:");
    if by_reason.is_empty() {
        println!("  none");
    }
    for r in by_reason {
        let title = r
            .reason
            .parse()
            .map(crate::escalation::card::reason_title)
            .unwrap_or("unknown");
        let recovered = if r.recovered > 0 {
            format!(", {} recovered", r.recovered)
        } else {
            String::new()
        };
        println!("  {:>4} {title} ({} still open{recovered})", r.n, r.open);
    }
    println!(
        "  posts sent: {} to the CSM chat, {} to people in private ({} daily digests, {} ladder steps, {} missed first-response SLAs)\n",
        posts.team, posts.private, posts.digests, posts.ladder, posts.sla
    );
    Ok(())
}

/// The next time a touch falls due; one held back by a human takeover is left to the next
/// day's look, or the clock would stand still on it.
async fn next_due(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar!(
        r#"select min(greatest(due_at, coalesce(next_attempt_at, due_at))) from touches
           where status = 'planned' and not exists (select from touch_holds(contact_id, category, $1))"#,
        now
    )
    .fetch_one(pool)
    .await?)
}

struct Simulation<'a> {
    pool: &'a PgPool,
    timeline: Timeline,
    rng: StdRng,
    pending: BinaryHeap<Reverse<Pending>>,
    inbound_seq: u64,
    /// Touches each contact has received, for personas that change over time.
    seen: std::collections::HashMap<String, usize>,
    announced_unreachable: HashSet<i64>,
    cursor: [usize; 2],
    crash_planned: bool,
    duplicates_ignored: usize,
}

impl Simulation<'_> {
    /// The simulated CSMs each morning: take what is new, move stalled renewals forward, and
    /// resolve what the bot reported as cleared.
    async fn csms_work(&mut self, now: DateTime<Utc>) -> anyhow::Result<()> {
        use crate::escalation::Reason;
        use crate::escalation::actions::{Action, act};
        use crate::escalation::store::{self, Filter};
        let mut conn = self.pool.acquire().await?;
        let open = store::fetch(&mut conn, Filter::Unresolved(None), false).await?;
        drop(conn);
        for e in open {
            let Some(owner) = e.owner_id else { continue };
            let who = e.owner_name.clone().unwrap_or_default();
            let title = crate::escalation::card::reason_title(e.reason);
            if e.status == "open" {
                if now - e.opened_at < Duration::hours(12) {
                    continue;
                }
                act(self.pool, e.id, &Action::Take, owner, now).await?;
                self.timeline.note(
                    now,
                    &format!("{who} takes #esc{} ({title}, {})", e.id, e.account_name),
                );
                if e.reason == Reason::RenewalNoProgress30 {
                    let progress = crate::inbound::signals::parse_signal(
                        e.account_id,
                        &crate::inbound::signals::RawSignal {
                            kind: "renewal_progress".into(),
                            occurred_at: now,
                            ..Default::default()
                        },
                    )
                    .map_err(|err| anyhow::anyhow!(err.0))?;
                    crate::inbound::signal_store::store(self.pool, &progress, "demo").await?;
                }
                continue;
            }
            let cleared = sqlx::query_scalar!(
                r#"select exists(select 1 from escalation_events
                                  where escalation_id = $1 and kind = 'cleared') as "x!""#,
                e.id.0
            )
            .fetch_one(self.pool)
            .await?;
            // Once the CSM has talked to the client about an answer or a request, it is done.
            let talked = e.reason.is_event()
                && sqlx::query_scalar!(
                    r#"select exists(select 1 from escalation_events where escalation_id = $1
                                      and kind = 'acknowledged' and at <= $2) as "x!""#,
                    e.id.0,
                    now - Duration::days(2)
                )
                .fetch_one(self.pool)
                .await?;
            if cleared || talked {
                let outcome = if e.recovered_at.is_some() {
                    crate::escalation::Outcome::Recovered
                } else {
                    crate::escalation::Outcome::Saved
                };
                act(
                    self.pool,
                    e.id,
                    &Action::Resolve(outcome.clone()),
                    owner,
                    now,
                )
                .await?;
                self.timeline.note(
                    now,
                    &format!(
                        "{who} resolves #esc{} ({title}, {}) as {outcome}",
                        e.id, e.account_name
                    ),
                );
            }
        }
        Ok(())
    }

    /// Turns the channels' new deliveries into timeline lines and the contacts' reactions.
    async fn collect_sent(
        &mut self,
        cast: &scenario::Cast,
        sims: &[&Arc<SimulatedChannel>; 2],
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        for (i, sim) in sims.iter().enumerate() {
            let sent = sim.sent();
            for s in &sent[self.cursor[i]..] {
                if s.message.idempotency_key.starts_with("post:") {
                    if s.message.to.address == DEMO_TEAM_CHAT {
                        // A card's first two lines say what and why; other posts are one line.
                        let head: Vec<&str> = s.message.text.lines().take(2).collect();
                        self.timeline
                            .note(now, &format!("CSM chat ← {}", head.join(": ")));
                    }
                    continue;
                }
                let touch = sqlx::query!(
                    r#"select t.kind, t.template, t.sent_at, a.name as account, a.contract_start,
                              coalesce(c.time_zone, a.time_zone) as "tz!"
                       from touches t join accounts a on a.id = t.account_id
                       left join contacts c on c.id = t.contact_id
                       where 'touch:' || t.account_id || ':' || t.touch_key = $1"#,
                    s.message.idempotency_key
                )
                .fetch_optional(self.pool)
                .await?;
                let Some(touch) = touch else { continue };
                // A send cut short by the staged crash has no recorded time yet.
                let sent_at = touch.sent_at.unwrap_or(now);
                let kind: TouchKind = touch
                    .kind
                    .parse()
                    .map_err(|e: crate::domain::ParseError| anyhow::anyhow!(e.0))?;
                let party = cast
                    .parties
                    .get(&(s.message.to.channel, s.message.to.address.clone()));
                let who = match party {
                    Some(Party::Contact { name, .. }) => name.clone(),
                    Some(Party::Staff { name }) => format!("{name} (CSM)"),
                    None => s.message.to.address.clone(),
                };
                self.timeline.sent(
                    sent_at,
                    &touch.tz,
                    &touch.account,
                    &who,
                    &touch.template,
                    &s.message,
                );
                if let Some(Party::Contact {
                    persona, locale, ..
                }) = party
                {
                    let seen = self.seen.entry(s.message.to.address.clone()).or_default();
                    let day = (sent_at.date_naive() - touch.contract_start).num_days();
                    let reaction = persona.react(
                        &personas::Touch {
                            kind,
                            day,
                            locale,
                            seen: *seen,
                        },
                        &mut self.rng,
                    );
                    *seen += 1;
                    match reaction {
                        Reaction::Ignore => {}
                        Reaction::Reply { after, text } => self.pending.push(Reverse(Pending {
                            at: sent_at + after,
                            channel: s.message.to.channel,
                            address: s.message.to.address.clone(),
                            text,
                            hand_back: false,
                        })),
                        Reaction::Block => {
                            sim.block(&s.message.to.address);
                            self.timeline.note(
                                sent_at + Duration::hours(2),
                                &format!("{who} ({}) blocked the bot", touch.account),
                            );
                        }
                    }
                }
            }
            self.cursor[i] = sent.len();
        }
        Ok(())
    }

    /// A contact's message reaches the inbound path.
    async fn receive(
        &mut self,
        cast: &scenario::Cast,
        messages: &Messages,
        judge: Judge<'_>,
        p: Pending,
    ) -> anyhow::Result<()> {
        self.inbound_seq += 1;
        let inbound = InboundMessage {
            channel: p.channel,
            address: p.address.clone(),
            provider_message_id: format!("sim-in-{}", self.inbound_seq),
            content: InboundContent::Text(p.text.clone()),
            received_at: p.at,
        };
        let outcome = receive(self.pool, judge, &inbound, p.at).await?;
        if self.inbound_seq == 1 {
            // Platforms deliver at least once: show that a repeat changes nothing.
            if let InboundOutcome::Handled(h) = receive(self.pool, judge, &inbound, p.at).await?
                && h.duplicate
            {
                self.duplicates_ignored += 1;
            }
        }
        let Some(Party::Contact {
            name,
            account,
            persona,
            locale,
        }) = cast.parties.get(&(p.channel, p.address.clone()))
        else {
            return Ok(());
        };
        let InboundOutcome::Handled(handled) = outcome else {
            return Ok(());
        };
        self.timeline
            .reply(p.at, account, name, &p.text, &handled.answer);
        if p.hand_back {
            let back = p.at + Duration::hours(1);
            crate::chat::takeover::handback(self.pool, handled.contact_id, None, back).await?;
            self.timeline.note(
                back,
                &format!("{account}: the CSM answers {name} and hands the chat back to the bot"),
            );
        }
        for key in handled.send_back() {
            if key == "nps-ask-why"
                && let Some(reason) = persona.reason(locale == "ru")
            {
                self.pending.push(Reverse(Pending {
                    at: p.at + Duration::minutes(25),
                    channel: p.channel,
                    address: p.address.clone(),
                    text: reason.to_string(),
                    hand_back: false,
                }));
            }
            if let Ok(text) = messages.render(&handled.locale, key, &handled.vars()) {
                self.timeline.bot_answer(p.at, account, name, &text);
            }
        }
        Ok(())
    }

    /// Reports contacts the channels have just refused for good.
    async fn announce_unreachable(&mut self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let rows = sqlx::query!(
            r#"select c.id, c.name, a.name as account, c.unreachable_reason
               from contacts c join accounts a on a.id = c.account_id
               where c.unreachable_at is not null"#
        )
        .fetch_all(self.pool)
        .await?;
        for r in rows {
            if self.announced_unreachable.insert(r.id) {
                self.timeline.note(
                    now,
                    &format!(
                        "{} ({}) can no longer be reached ({}): marked unreachable, a signal is recorded, and their touches are skipped from now on",
                        r.name,
                        r.account,
                        r.unreachable_reason.unwrap_or_default()
                    ),
                );
            }
        }
        Ok(())
    }

    /// The address of a contact whose touch is due now, to stage the crash on.
    async fn next_recipient_address(
        &self,
        pool: &PgPool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        Ok(sqlx::query_scalar!(
            r#"select c.address from touches t join contacts c on c.id = t.contact_id
               where t.status = 'planned' and t.due_at <= $1 and c.unreachable_at is null
               order by t.due_at limit 1"#,
            now
        )
        .fetch_optional(pool)
        .await?
        .flatten())
    }
}

/// `whatsapp` counts the touches WhatsApp contacts got as (templates, free text).
async fn summary(
    pool: &PgPool,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    sent_twice: usize,
    duplicates_ignored: usize,
    whatsapp: (usize, usize),
) -> anyhow::Result<()> {
    let counts = sqlx::query!(
        r#"select status, count(*) as "n!" from touches where due_at <= $1
           group by status order by status"#,
        end
    )
    .fetch_all(pool)
    .await?;
    let skipped = sqlx::query!(
        r#"select regexp_replace(coalesce(status_reason, ''), '[0-9]+', 'N', 'g') as "reason!",
                  count(*) as "n!"
           from touches
           where status = 'skipped' and due_at <= $1
           group by 1 order by 2 desc limit 8"#,
        end
    )
    .fetch_all(pool)
    .await?;
    println!("The outbox after the year:");
    for c in counts {
        println!("  {:>4} {}", c.n, c.status);
    }
    if !skipped.is_empty() {
        println!("  skipped, by reason:");
        for s in skipped {
            println!("    {:>4} {}", s.n, s.reason);
        }
    }
    println!("  sent twice: {sent_twice}; redelivered replies ignored: {duplicates_ignored}");
    println!(
        "  to WhatsApp contacts: {} as templates (silent for over a day), {} as free text \
         (within 24 hours of their last message)",
        whatsapp.0, whatsapp.1
    );
    let nps = crate::status::nps_between(pool, start, end).await?;
    if let Some(score) = nps.score() {
        println!(
            "  NPS over the year: {score:+} ({} answers: {} promoters, {} passives, {} detractors)",
            nps.answers, nps.promoters, nps.passives, nps.detractors
        );
    }
    println!();
    Ok(())
}
