-- Staff-side chat: binding the CSM group by a one-time code, and human takeover of a client
-- conversation (the client's words go to the CSM, the CSM's replies go back, automation waits).

-- Codes printed by `touchbot team bind-code` and sent as `/bind <code>` in the group to bind.
-- A code works once and only until it expires; a used one keeps who used it and where.
create table team_bind_codes (
    code            text primary key,
    created_at      timestamptz not null,
    expires_at      timestamptz not null,
    used_at         timestamptz,
    used_by         bigint references staff(id) on delete set null,
    used_in_chat    text,
    check (expires_at > created_at),
    check ((used_at is null) = (used_in_chat is null))
);

-- A client contact talking with a person instead of the bot. While a row is current (not
-- ended, `until` still ahead) the dispatcher holds that contact's automated touches back.
-- Rows are kept after they end, as the history of who talked with whom.
create table contact_takeovers (
    id              bigserial primary key,
    contact_id      bigint not null references contacts(id) on delete cascade,
    -- the person the client's words go to: the account's CSM when it started.
    staff_id        bigint references staff(id) on delete set null,
    started_at      timestamptz not null,
    until           timestamptz not null,
    -- handed back by a person, or closed when a new conversation replaced a lapsed one.
    ended_at        timestamptz,
    ended_by        bigint references staff(id) on delete set null,
    check (until > started_at)
);
-- At most one conversation per contact is not ended.
create unique index contact_takeovers_current_key on contact_takeovers (contact_id)
    where ended_at is null;

-- The client's words reach staff as a staff post; a reply to that post is relayed back to the
-- contact it names.
alter table staff_posts drop constraint staff_posts_kind_check;
alter table staff_posts add constraint staff_posts_kind_check
    check (kind in ('escalation', 'realert', 'cleared', 'ladder', 'sla_breach', 'recovered',
                    'digest', 'weekly', 'relay'));
create table takeover_relays (
    post_id         bigint primary key references staff_posts(id) on delete cascade,
    contact_id      bigint not null references contacts(id) on delete cascade
);
-- A reply names the message it answers by the chat and the platform's message id.
create index staff_posts_sent_message_idx on staff_posts (provider_message_id, sent_address)
    where provider_message_id is not null;
