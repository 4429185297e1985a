-- What `status` of the portfolio reads per account, kept as each score is written, so the
-- figures read one small row per account instead of probing the history (two probes an
-- account) and every asked touch of 90 days (a reply probe each).
--
-- The score part follows `health_scores` through a statement trigger, whoever writes the
-- score (the reassessment, an import, a test). The touch counts are written by the
-- reassessment beside its scores (`metrics::count_responses`) and belong to the latest score
-- only when `counted_at` is its `computed_at`; otherwise the figures count live.
create table account_health (
    account_id     bigint primary key references accounts(id) on delete cascade,
    -- The latest row of the history (by computed_at, then id), as `latest_scores` orders it.
    score_id       bigint not null,
    computed_at    timestamptz not null,
    score          smallint,
    category       text,
    -- The score in force at `baseline_at` (30 days before `computed_at`): the latest one with a
    -- score at or before it. It is still the one in force at any later instant before
    -- `baseline_until`, the next scored row after `baseline_at` (null: none).
    baseline_at    timestamptz not null,
    score_30d_ago  smallint,
    baseline_until timestamptz,
    -- The touches that asked something in the 90 days before `counted_at`, counted as
    -- `metrics::response_rate` does (answered within the reply window, waiting inside it).
    counted_at     timestamptz,
    asked          integer,
    answered       integer,
    waiting        integer
);

-- The touches that asked something, sent in (since, at], counted per account: answered when
-- a reply came by `at` and within `reply` of the send; waiting while unanswered inside that
-- window. One definition for the live figures and the counts kept above. Every account's
-- (`among` null) read the window by time; a list of accounts (a chunk of the reassessment)
-- reads each one's touches by account, not the whole window.
create function asked_touch_counts(at timestamptz, since timestamptz, reply interval,
                                   among bigint[])
returns table (account_id bigint, asked bigint, answered bigint, waiting bigint)
language sql stable as $$
    -- Materialized so that each touch's reply is looked up once, not once per count.
    with t as materialized (
        select t.account_id, t.sent_at,
               exists (select 1 from replies r
                       where r.touch_id = t.id
                         and r.received_at <= least(at, t.sent_at + reply)) as answered
        from (select t.account_id, t.id, t.sent_at from touches t
               where among is null and t.status = 'sent' and t.contact_id is not null
                 and t.kind in ('nps', 'csat', 'checkin', 'qbr')
                 and t.sent_at > since and t.sent_at <= at
              union all
              select t.account_id, t.id, t.sent_at from unnest(among) a(id)
               cross join lateral (select t.account_id, t.id, t.sent_at from touches t
                                    where t.account_id = a.id and t.status = 'sent'
                                      and t.contact_id is not null
                                      and t.kind in ('nps', 'csat', 'checkin', 'qbr')
                                      and t.sent_at > since and t.sent_at <= at
                                    -- a probe per account, not a join with the window
                                    offset 0) t) t
    )
    select t.account_id,
           count(*) filter (where t.answered or at - t.sent_at >= reply),
           count(*) filter (where t.answered),
           count(*) filter (where not t.answered and at - t.sent_at < reply)
    from t
    group by t.account_id
$$;

-- Rebuilds the score part of `among`'s rows from the history, so rows written out of time
-- order (a simulated clock, an import) leave the same row as rows written in order.
create function account_health_refresh(among bigint[]) returns void language sql as $$
    insert into account_health as s (account_id, score_id, computed_at, score, category,
                                     baseline_at, score_30d_ago, baseline_until)
    select a.id, h.id, h.computed_at, h.score, h.category,
           h.computed_at - interval '30 days', b.score, n.computed_at
    from unnest(among) a(id)
    cross join lateral (select id, computed_at, score, category from health_scores
                         where account_id = a.id
                         order by computed_at desc, id desc limit 1) h
    left join lateral (select score from health_scores
                        where account_id = a.id and score is not null
                          and computed_at <= h.computed_at - interval '30 days'
                        order by computed_at desc, id desc limit 1) b on true
    left join lateral (select computed_at from health_scores
                        where account_id = a.id and score is not null
                          and computed_at > h.computed_at - interval '30 days'
                        order by computed_at limit 1) n on true
    on conflict (account_id) do update
       set score_id = excluded.score_id, computed_at = excluded.computed_at,
           score = excluded.score, category = excluded.category,
           baseline_at = excluded.baseline_at, score_30d_ago = excluded.score_30d_ago,
           baseline_until = excluded.baseline_until
     -- Two writers of one account at once: the later score wins whichever commits last.
     where (s.computed_at, s.score_id) <= (excluded.computed_at, excluded.score_id)
$$;

-- The rows that hold what a read at `at` would find in the history: the latest score by then
-- (the row is not newer than `at`) and the score in force 30 days before `at` (the baseline
-- has not been replaced since). Accounts without one read the history.
create function account_health_at(at timestamptz) returns setof account_health
language sql stable as $$
    select * from account_health
     where computed_at <= at and baseline_at <= at - interval '30 days'
       and (baseline_until is null or baseline_until > at - interval '30 days')
$$;

create function account_health_follow() returns trigger language plpgsql as $$
begin
    perform account_health_refresh(array(select distinct account_id from new_scores));
    return null;
end $$;

create trigger health_scores_summary_trg after insert on health_scores
    referencing new table as new_scores
    for each statement execute function account_health_follow();

-- Where the figures' first payment of each account is found, without a probe per account.
create index signals_payments_idx on signals (account_id, occurred_at)
    where kind in ('payment_on_time', 'payment_late') and value is not null;

-- Backfill: every scored account's row from its history (tests/status/summary.rs runs what
-- follows this line again).
select account_health_refresh(array(select distinct account_id from health_scores));

-- The counts as the reassessment would have written them beside each latest score (the
-- default windows of the figures: 90 days, a reply within 7 days).
update account_health s
   set counted_at = s.computed_at,
       asked = coalesce(c.asked, 0), answered = coalesce(c.answered, 0),
       waiting = coalesce(c.waiting, 0)
  from account_health x
  left join lateral asked_touch_counts(x.computed_at, x.computed_at - interval '90 days',
                                       interval '7 days', array[x.account_id]) c on true
 where x.account_id = s.account_id;
