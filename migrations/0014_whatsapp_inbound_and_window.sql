-- WhatsApp inbound, the 24-hour customer-service window, delivery statuses, consent history
-- and strangers kept for review.

-- When the contact last wrote to the bot, on any channel. WhatsApp lets a business send free
-- text only within 24 hours of it; outside, only approved templates.
alter table contacts add column last_inbound_at timestamptz;
update contacts c
   set last_inbound_at = (select max(r.received_at) from replies r where r.contact_id = c.id);

-- Every event the WhatsApp webhook brought (a message, or one status of one message), stored
-- before the webhook answers 200 and handled afterwards. The key makes redeliveries one row:
-- 'msg:<wamid>' for a message, 'status:<wamid>:<status>' for a status.
create table whatsapp_events (
    id              bigserial primary key,
    event_key       text not null unique,
    kind            text not null check (kind in ('message', 'status')),
    payload         jsonb not null,
    received_at     timestamptz not null,
    -- handled (or set aside): nothing left to do.
    done_at         timestamptz,
    -- an instance working on it holds it until then; one that died lets it go.
    claimed_until   timestamptz,
    tries           integer not null default 0,
    last_error      text
);
create index whatsapp_events_pending_idx on whatsapp_events (id) where done_at is null;

-- What WhatsApp said became of a touch after accepting it.
alter table touches add column delivered_at timestamptz;
alter table touches add column read_at timestamptz;
-- Set when WhatsApp refused the free-text form (131047: the window had closed): the touch
-- goes out as its template.
alter table touches add column template_only boolean not null default false;

-- "This touch kind has no WhatsApp template" is told to the team once per template key.
create table whatsapp_template_notices (
    template_key    text primary key,
    told_at         timestamptz not null
);

-- Someone who wrote and is no contact: kept for staff to review (`touchbot inbound strangers`),
-- answered politely once.
create table strangers (
    channel         text not null,
    address         text not null,
    first_seen_at   timestamptz not null,
    last_seen_at    timestamptz not null,
    messages        integer not null default 1,
    -- the platform's name for them, when it gave one (WhatsApp's profile name).
    display_name    text,
    answered_at     timestamptz,
    primary key (channel, address)
);

-- Every consent change, kept (contact_consents holds only the current state).
create table consent_changes (
    id              bigserial primary key,
    contact_id      bigint not null references contacts(id) on delete cascade,
    category        text not null check (category in ('survey', 'checkin', 'renewal', 'service')),
    opted_out       boolean not null,
    changed_at      timestamptz not null,
    source          text not null
);
create index consent_changes_contact_idx on consent_changes (contact_id, changed_at);
insert into consent_changes (contact_id, category, opted_out, changed_at, source)
select contact_id, category, opted_out, changed_at, source from contact_consents;

alter table staff_posts drop constraint staff_posts_kind_check;
alter table staff_posts add constraint staff_posts_kind_check
    check (kind in ('escalation', 'realert', 'cleared', 'ladder', 'sla_breach', 'recovered',
                    'digest', 'weekly', 'relay', 'unreachable', 'relay_reply', 'answer',
                    'template_missing'));
