-- Telegram contacts join by a personal deep link (t.me/<bot>?start=<code>): the code names the
-- contact, works once, and expires. Telegram passes the code back as "/start <code>", so it is
-- limited to what a start payload may hold (1-64 of A-Za-z0-9_-).
create table contact_invites (
    id              bigserial primary key,
    code            text not null unique check (code ~ '^[A-Za-z0-9_-]{1,64}$'),
    contact_id      bigint not null references contacts(id) on delete cascade,
    created_at      timestamptz not null,
    expires_at      timestamptz not null,
    -- set when the link bound a chat; a used code binds nothing again.
    used_at         timestamptz,
    used_by_chat    text,
    -- set when a newer link for the same contact replaced this one before it was used.
    revoked_at      timestamptz,
    check (expires_at > created_at),
    check ((used_at is null) = (used_by_chat is null))
);
create index contact_invites_contact_idx on contact_invites (contact_id);

-- When a contact first joined the bot (their chat became known). A contact added before they
-- joined gets their welcome from that day, not from the day they were typed in.
alter table contacts add column joined_at timestamptz;

-- Webhook mode: Telegram retries a delivery it did not see acknowledged, so each update id is
-- recorded before the update is handled, and a repeat is acknowledged without handling it again.
create table telegram_updates (
    update_id       bigint primary key,
    received_at     timestamptz not null
);
create index telegram_updates_received_idx on telegram_updates (received_at);
