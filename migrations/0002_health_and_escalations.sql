-- Health scores with their history, and escalations with their lifecycle. The logic lives in
-- the pure cores `health` and `escalation`; these tables keep what they decided.

-- One row per computation: the trend is read from the history, so rows are never updated.
create table health_scores (
    id              bigserial primary key,
    account_id      bigint not null references accounts(id) on delete cascade,
    computed_at     timestamptz not null,
    -- null when no component had data ("not enough data"), never a made-up number.
    score           smallint check (score between 0 and 100),
    category        text check (category in ('green', 'yellow', 'red')),
    model           text not null,
    -- every component with its weight, value (or null when unknown) and explanation.
    components      jsonb not null,
    missing         text[] not null default '{}',
    summary         text not null,
    -- what caused the recomputation: a reply, a signal, the nightly job…
    cause           text not null,
    check ((score is null) = (category is null))
);
create index health_scores_account_idx on health_scores (account_id, computed_at desc);

-- A red signal being worked. At most one escalation per account and reason is open at a
-- time: a repeated trigger updates it, a worse one re-alerts it.
create table escalations (
    id              bigserial primary key,
    account_id      bigint not null references accounts(id) on delete cascade,
    -- the stable key of escalation::Reason ('detractor', 'health_red', 'silence', …)
    reason          text not null,
    severity        text not null check (severity in ('info', 'warning', 'critical')),
    -- the magnitude and severity last posted, so only a worse state posts again.
    magnitude       double precision not null,
    status          text not null default 'open'
                    check (status in ('open', 'acknowledged', 'resolved')),
    -- what a CSM reads on the card, in plain words (ids, scores, the client's words).
    evidence        text not null,
    owner_id        bigint references staff(id) on delete set null,
    -- the highest rung of the ladder already told: csm, manager, vp.
    notified_level  text check (notified_level in ('csm', 'manager', 'vp')),
    opened_at       timestamptz not null,
    last_alerted_at timestamptz,
    first_response_at timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by bigint references staff(id) on delete set null,
    snoozed_until   timestamptz,
    resolved_at     timestamptz,
    resolved_by     bigint references staff(id) on delete set null,
    -- escalation::Outcome in its text form ('saved', 'churned:competitor:Acme CRM', …)
    outcome         text,
    updated_at      timestamptz not null,
    check ((status = 'resolved') = (resolved_at is not null))
);
create unique index escalations_open_key on escalations (account_id, reason)
    where status <> 'resolved';
create index escalations_status_idx on escalations (status, opened_at);

-- Everything that happened to an escalation, for the card's history and the team metrics.
create table escalation_events (
    id              bigserial primary key,
    escalation_id   bigint not null references escalations(id) on delete cascade,
    at              timestamptz not null,
    -- opened, updated, realerted, acknowledged, contacted, snoozed, climbed, resolved
    kind            text not null,
    staff_id        bigint references staff(id) on delete set null,
    details         text not null default ''
);
create index escalation_events_idx on escalation_events (escalation_id, at);
