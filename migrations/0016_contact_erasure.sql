-- A contact erased at their request (right to be forgotten) stays as a tombstone so counts and
-- foreign keys hold: its name is replaced, its address gone, and this records when.
alter table contacts add column erased_at timestamptz;

-- Outgoing event webhooks. An event is written by a trigger on the row that caused it, so it
-- is in the same transaction whatever code path changed the row; the same trigger fans it
-- out to one delivery per subscription that asked for its kind.
create table webhook_subscriptions (
    id              bigserial primary key,
    url             text not null check (url ~ '^https?://'),
    events          text[] not null check (cardinality(events) > 0),
    -- the HMAC key the receiver checks signatures with; shown once when created. Kept as is,
    -- since signing needs it.
    secret          text not null,
    created_at      timestamptz not null default now(),
    removed_at      timestamptz
);

create table outgoing_events (
    id              bigserial primary key,
    kind            text not null check (kind in ('nps_answer', 'escalation_opened',
                        'escalation_resolved', 'contact_unreachable', 'health_category_changed')),
    account_id      bigint references accounts(id) on delete cascade,
    payload         jsonb not null,
    occurred_at     timestamptz not null,
    created_at      timestamptz not null default now()
);

-- One delivery per (event, subscription), sent like a touch: claimed under a lease, retried
-- with backoff, given up after the dispatcher's max_attempts.
create table webhook_deliveries (
    id              bigserial primary key,
    event_id        bigint not null references outgoing_events(id) on delete cascade,
    subscription_id bigint not null references webhook_subscriptions(id) on delete cascade,
    status          text not null default 'planned'
                    check (status in ('planned', 'claimed', 'delivered', 'failed', 'cancelled')),
    attempt         integer not null default 0,
    tries           integer not null default 0,
    lease_owner     text,
    lease_until     timestamptz,
    next_attempt_at timestamptz not null default now(),
    -- the receiver's HTTP status on the last try, or null when it could not be reached.
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (event_id, subscription_id)
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at)
    where status in ('planned', 'claimed');

create function touchbot_emit(kind text, account bigint, payload jsonb, at timestamptz)
returns void language plpgsql as $$
declare
    event bigint;
begin
    insert into outgoing_events (kind, account_id, payload, occurred_at)
    values (kind, account, payload, at) returning id into event;
    insert into webhook_deliveries (event_id, subscription_id)
    select event, s.id from webhook_subscriptions s
     where s.removed_at is null and kind = any(s.events);
end $$;

create function replies_emit() returns trigger language plpgsql as $$
begin
    perform touchbot_emit('nps_answer', new.account_id, jsonb_build_object(
        'account_id', new.account_id, 'contact_id', new.contact_id, 'reply_id', new.id,
        'touch_id', new.touch_id, 'channel', new.channel, 'score', new.score,
        'comment', new.comment), new.received_at);
    return null;
end $$;
create trigger replies_emit_trg after insert on replies
    for each row when (new.kind = 'nps' and new.score is not null)
    execute function replies_emit();

create function escalations_emit() returns trigger language plpgsql as $$
begin
    perform touchbot_emit(
        case when tg_op = 'INSERT' then 'escalation_opened' else 'escalation_resolved' end,
        new.account_id, jsonb_build_object(
            'account_id', new.account_id, 'escalation_id', new.id, 'reason', new.reason,
            'severity', new.severity, 'status', new.status, 'outcome', new.outcome),
        coalesce(new.resolved_at, new.opened_at));
    return null;
end $$;
create trigger escalations_opened_trg after insert on escalations
    for each row execute function escalations_emit();
create trigger escalations_resolved_trg after update of status on escalations
    for each row when (new.status = 'resolved' and old.status <> 'resolved')
    execute function escalations_emit();

create function contacts_emit() returns trigger language plpgsql as $$
begin
    perform touchbot_emit('contact_unreachable', new.account_id, jsonb_build_object(
        'account_id', new.account_id, 'contact_id', new.id, 'channel', new.channel,
        'reason', new.unreachable_reason), new.unreachable_at);
    return null;
end $$;
create trigger contacts_unreachable_trg after update of unreachable_at on contacts
    for each row when (old.unreachable_at is null and new.unreachable_at is not null)
    execute function contacts_emit();

-- A score whose category differs from the account's scored one just before it (by time, so
-- rows inserted together by one statement are compared in order).
create function health_emit() returns trigger language plpgsql as $$
declare
    before text;
begin
    select h.category into before from health_scores h
     where h.account_id = new.account_id and h.category is not null
       and (h.computed_at, h.id) < (new.computed_at, new.id)
     order by h.computed_at desc, h.id desc limit 1;
    if before is distinct from new.category and before is not null then
        perform touchbot_emit('health_category_changed', new.account_id, jsonb_build_object(
            'account_id', new.account_id, 'from', before, 'to', new.category,
            'score', new.score), new.computed_at);
    end if;
    return null;
end $$;
create trigger health_scores_emit_trg after insert on health_scores
    for each row when (new.category is not null)
    execute function health_emit();
