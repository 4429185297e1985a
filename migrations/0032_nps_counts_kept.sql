-- The NPS answers of 90 days, counted per account beside the touch counts of `account_health`,
-- so the portfolio's default figures read no replies: at 100,000 accounts the live read of the
-- window's answers (66,667 rows) cost more than every other figure together.
--
-- Written by the reassessment beside its scores (`health::store::summary::keep`; other
-- writers of scores may call `metrics::keep_nps_counts`), and, like the
-- touch counts, they belong to the latest score only when `nps_counted_at` is its
-- `computed_at`; otherwise (another window, a score written by another path) the figures read
-- the answers live.
alter table account_health
    add column nps_counted_at timestamptz,
    add column nps_answers    integer,
    add column promoters      integer,
    add column passives       integer,
    add column detractors     integer;

-- The NPS answers received in (since, at] by the accounts `among`, counted as
-- `metrics::nps_of` does: each contact once, with their latest answer (of two at the same
-- instant, the later row). A contact answers for one account only, so counting per account
-- and contact counts each contact once in any set of accounts.
create function nps_counts(at timestamptz, since timestamptz, among bigint[])
returns table (account_id bigint, answers bigint, promoters bigint, passives bigint,
               detractors bigint)
language sql stable as $$
    select l.account_id, count(*),
           count(*) filter (where l.score >= 9),
           count(*) filter (where l.score between 7 and 8),
           count(*) filter (where l.score <= 6)
    from (select distinct on (r.account_id, r.contact_id) r.account_id, r.score
            from unnest(among) a(id)
           cross join lateral (select r.account_id, r.contact_id, r.score, r.received_at, r.id
                                 from replies r
                                where r.account_id = a.id and r.kind = 'nps'
                                  and r.received_at > since and r.received_at <= at
                                  -- what the live read takes for a score (a u8)
                                  and r.score between 0 and 255
                               -- a probe per account, not a join with the whole window
                               offset 0) r
           order by r.account_id, r.contact_id, r.received_at desc, r.id desc) l
    group by l.account_id
$$;

-- Backfill: the counts as the reassessment would have written them beside each latest score
-- (the figures' default window, 90 days).
update account_health s
   set nps_counted_at = s.computed_at,
       nps_answers = coalesce(c.answers, 0), promoters = coalesce(c.promoters, 0),
       passives = coalesce(c.passives, 0), detractors = coalesce(c.detractors, 0)
  from account_health x
  left join lateral nps_counts(x.computed_at, x.computed_at - interval '90 days',
                               array[x.account_id]) c on true
 where x.account_id = s.account_id;
