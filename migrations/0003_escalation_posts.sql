-- Escalations reach people: the team's CSM chat, posts to staff (cards, ladder steps, digests)
-- queued like touches, and what the escalation lifecycle needs to remember between runs.

-- The newest event (an NPS answer, a request for help, a recorded departure) an escalation has
-- covered. An event at or before this time was already escalated and never opens another one.
alter table escalations add column events_until timestamptz;
-- The first-response deadline, counted in the team's working hours when the escalation opened.
alter table escalations add column sla_due_at timestamptz;
-- When the missed deadline was reported, so it is reported once.
alter table escalations add column sla_breach_posted_at timestamptz;
-- For a detractor escalation: the score escalated, and the later, better answer that showed
-- the client recovered.
alter table escalations add column nps_score smallint check (nps_score between 0 and 10);
alter table escalations add column recovered_at timestamptz;
alter table escalations add column recovered_score smallint check (recovered_score between 0 and 10);

-- The CS team's group chat, where escalation cards are posted. One per installation.
create table team_chat (
    id              boolean primary key default true check (id),
    channel         text not null check (channel in ('telegram', 'simulated')),
    address         text not null,
    bound_at        timestamptz not null,
    bound_by        bigint references staff(id) on delete set null
);

-- Messages to staff: escalation cards, ladder steps, SLA breaches, digests. Their text is
-- written when they are queued (the card shows the evidence of that moment), and they are
-- delivered like touches: claimed, leased, retried, never sent twice.
create table staff_posts (
    id              bigserial primary key,
    -- names what the post is and who gets it ('esc:12:opened:team', 'digest:3:2026-11-26'):
    -- queueing the same post twice is a no-op.
    idempotency_key text not null unique,
    kind            text not null check (kind in ('escalation', 'realert', 'cleared', 'ladder',
                                                  'sla_breach', 'recovered', 'digest', 'weekly')),
    escalation_id   bigint references escalations(id) on delete cascade,
    account_id      bigint references accounts(id) on delete cascade,
    -- a staff member in private, or null for the team's CSM chat.
    staff_id        bigint references staff(id) on delete cascade,
    -- 'now' posts when due; 'digest' waits to be gathered into the recipient's daily digest.
    delivery        text not null default 'now' check (delivery in ('now', 'digest')),
    body            text not null,
    -- rows of {label, data} buttons, as on a touch.
    buttons         jsonb not null default '[]',
    due_at          timestamptz not null,
    -- planned → claimed → sending → sent; or failed / skipped; 'unknown' when a crash left a
    -- send unclear; 'digested' once gathered into the digest post named by digest_id.
    status          text not null default 'planned'
                    check (status in ('planned', 'claimed', 'sending', 'sent', 'failed',
                                      'skipped', 'unknown', 'digested')),
    status_reason   text,
    digest_id       bigint references staff_posts(id) on delete set null,
    attempt         integer not null default 0,
    lease_owner     text,
    lease_until     timestamptz,
    next_attempt_at timestamptz,
    last_error      text,
    sent_at         timestamptz,
    -- where it went and under which id, so a card can be edited later.
    sent_channel    text,
    sent_address    text,
    provider_message_id text,
    created_at      timestamptz not null,
    updated_at      timestamptz not null
);
create index staff_posts_due_idx on staff_posts (due_at)
    where status in ('planned', 'claimed', 'sending') and delivery = 'now';
create index staff_posts_digest_idx on staff_posts (staff_id, due_at)
    where status = 'planned' and delivery = 'digest';
create index staff_posts_escalation_idx on staff_posts (escalation_id);

create function staff_posts_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('touchbot_staff_posts', new.id::text);
    return null;
end $$;
create trigger staff_posts_notify_trg
    after insert or update of due_at, status, next_attempt_at on staff_posts
    for each row when (new.status = 'planned' and new.delivery = 'now')
    execute function staff_posts_notify();
