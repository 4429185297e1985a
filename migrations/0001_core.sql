-- The core model: who the bot serves (accounts, contacts, staff), what it plans and sends
-- (touches), and what comes back (replies, signals). Every timestamp is timestamptz;
-- local times are derived from the stored IANA zone, never stored.

create table staff (
    id              bigserial primary key,
    name            text not null,
    -- csm, cs_manager, vp, admin
    role            text not null check (role in ('csm', 'cs_manager', 'vp', 'admin')),
    telegram_user_id bigint unique,
    email           text,
    locale          text not null default 'en',
    -- who this person reports to: the escalation ladder walks this chain.
    manager_id      bigint references staff(id) on delete set null,
    created_at      timestamptz not null default now()
);
create unique index staff_name_key on staff (lower(name));

create table accounts (
    id              bigserial primary key,
    name            text not null,
    segment         text not null check (segment in ('enterprise', 'mid_market', 'smb')),
    arr_cents       bigint not null default 0 check (arr_cents >= 0),
    -- day 0 of the calendar: the go-live date when known, else the contract start.
    contract_start  date not null,
    go_live         date,
    renewal_date    date,
    csm_id          bigint references staff(id) on delete set null,
    time_zone       text not null default 'UTC',
    locale          text not null default 'en',
    -- 'active' accounts are planned and served; 'churned' ones keep their history only.
    lifecycle       text not null default 'active' check (lifecycle in ('active', 'paused', 'churned')),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
-- Names identify accounts on the CLI and in chat, so they are unique regardless of case.
create unique index accounts_name_key on accounts (lower(name));

create table contacts (
    id              bigserial primary key,
    account_id      bigint not null references accounts(id) on delete cascade,
    name            text not null,
    role            text not null check (role in ('decision_maker', 'champion', 'user')),
    channel         text not null check (channel in ('telegram', 'whatsapp', 'simulated')),
    -- a Telegram chat id, an E.164 phone number, or a simulated handle; null until a
    -- Telegram contact has joined through their deep link.
    address         text,
    time_zone       text,
    locale          text,
    -- set when a channel reports the contact cannot be reached (blocked the bot, unknown chat).
    unreachable_at  timestamptz,
    unreachable_reason text,
    -- removed contacts keep their history but receive nothing.
    removed_at      timestamptz,
    created_at      timestamptz not null default now()
);
create index contacts_account_idx on contacts (account_id);
create unique index contacts_address_key on contacts (channel, address)
    where address is not null and removed_at is null;

-- Consent per message category (survey, checkin, renewal, service). No row means the default:
-- the contact receives that category. The row keeps when and how the choice was made.
create table contact_consents (
    contact_id      bigint not null references contacts(id) on delete cascade,
    category        text not null check (category in ('survey', 'checkin', 'renewal', 'service')),
    opted_out       boolean not null,
    changed_at      timestamptz not null,
    source          text not null,
    primary key (contact_id, category)
);

-- Every planned, sent or skipped touch. A touch is identified by (account, touch_key); the key
-- names the rule occurrence ('nps-90', 'renewal-90@2027-03-01'), so re-planning updates the
-- same row instead of creating a second touch, and a touch is never sent twice.
create table touches (
    id              bigserial primary key,
    account_id      bigint not null references accounts(id) on delete cascade,
    touch_key       text not null,
    rule            text not null,
    kind            text not null,
    category        text not null,
    template        text not null,
    -- exactly one recipient: a client contact, or a staff member for internal reminders.
    contact_id      bigint references contacts(id) on delete cascade,
    staff_id        bigint references staff(id) on delete set null,
    due_at          timestamptz not null,
    -- planned → claimed (leased by a worker) → sending (handed to the channel) → sent;
    -- or skipped / failed / cancelled; 'unknown' when a crash left the outcome of a send unclear.
    status          text not null default 'planned'
                    check (status in ('planned', 'claimed', 'sending', 'sent', 'skipped', 'failed', 'cancelled', 'unknown')),
    status_reason   text,
    -- why the calendar moved this touch from its nominal day, in plain words.
    notes           text[] not null default '{}',
    attempt         integer not null default 0,
    lease_owner     text,
    lease_until     timestamptz,
    next_attempt_at timestamptz,
    last_error      text,
    sent_at         timestamptz,
    provider_message_id text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (account_id, touch_key),
    check ((contact_id is null) <> (staff_id is null) or status in ('skipped', 'cancelled'))
);
create index touches_due_idx on touches (due_at) where status in ('planned', 'claimed', 'sending');
create index touches_contact_idx on touches (contact_id, sent_at);

-- Wake the dispatcher when work is added or rescheduled; it still polls as a fallback.
create function touches_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('touchbot_outbox', new.id::text);
    return null;
end $$;
create trigger touches_notify_trg
    after insert or update of due_at, status, next_attempt_at on touches
    for each row when (new.status = 'planned')
    execute function touches_notify();

-- Everything a contact sent back. (channel, provider_message_id) makes a redelivered inbound
-- event a no-op.
create table replies (
    id              bigserial primary key,
    account_id      bigint not null references accounts(id) on delete cascade,
    contact_id      bigint not null references contacts(id) on delete cascade,
    touch_id        bigint references touches(id) on delete set null,
    channel         text not null,
    provider_message_id text not null,
    received_at     timestamptz not null,
    body            text not null,
    -- what the parser made of it: nps / csat / checkin / optout / free_text
    kind            text not null,
    score           smallint,
    comment         text,
    created_at      timestamptz not null default now(),
    unique (channel, provider_message_id)
);
create index replies_account_idx on replies (account_id, received_at);

-- Facts about an account from the bot itself or from outside (usage, support, payments,
-- relationship events). idempotency_key makes a re-fed signal a no-op.
create table signals (
    id              bigserial primary key,
    account_id      bigint not null references accounts(id) on delete cascade,
    contact_id      bigint references contacts(id) on delete set null,
    kind            text not null,
    value           double precision,
    details         jsonb not null default '{}',
    occurred_at     timestamptz not null,
    source          text not null,
    idempotency_key text not null unique,
    created_at      timestamptz not null default now()
);
create index signals_account_idx on signals (account_id, kind, occurred_at);
