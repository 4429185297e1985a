-- The bare-SQL reference for `deliver_due`: the claim, the `sending` mark and the `sent` settle
-- that touchbot runs on the touches table (src/outbound/outbox.rs), the mark and the settle
-- over the arrays of the claimed rows as touchbot binds them, each statement committed on its
-- own. What touchbot adds is everything else: loading the rows, deciding, rendering, the
-- channel, the bookkeeping. Variables: now (epoch seconds the touches are due by), batch
-- (touches per claim: 1 for one by one).
with due as (
    select id from touches
     where status = 'planned'
       and due_at <= to_timestamp(:now)
       and (next_attempt_at is null or next_attempt_at <= to_timestamp(:now))
       and not exists (select from touch_holds(contact_id, category, to_timestamp(:now)))
     order by due_at, id
     limit :batch
     for update skip locked
), claimed as (
    update touches t
       set status = 'claimed', attempt = t.attempt + 1, lease_owner = 'pgbench-' || :client_id,
           lease_until = now() + make_interval(secs => 120), updated_at = to_timestamp(:now)
      from due
     where t.id = due.id
    returning t.id, t.attempt
)
select coalesce(array_agg(id), '{}') as ids, coalesce(array_agg(attempt), '{}') as attempts
  from claimed \gset
update touches t
   set status = 'sending', tries = t.tries + 1,
       lease_until = now() + make_interval(secs => 120), updated_at = v.now
  from (select id, attempt, to_timestamp(:now) as now
          from unnest(':ids'::int8[], ':attempts'::int4[]) as u(id, attempt)) v
 where t.id = v.id and t.attempt = v.attempt and t.status = 'claimed'
   and t.lease_until > now()
returning t.id, t.tries;
update touches t
   set status = case v.kind when 'sent' then 'sent' when 'fail' then 'failed'
                            when 'skip' then 'skipped' when 'unknown' then 'unknown'
                            else 'planned' end,
       next_attempt_at = case when v.kind in ('retry', 'wait') then v.at
                              else t.next_attempt_at end,
       sent_at = case when v.kind = 'sent' then v.now else t.sent_at end,
       provider_message_id = case when v.kind = 'sent' then v.text
                                  else t.provider_message_id end,
       status_reason = case when v.kind = 'sent' then null
                            when v.kind in ('wait', 'fail', 'skip', 'unknown') then v.text
                            else t.status_reason end,
       last_error = case when v.kind = 'sent' then null
                         when v.kind in ('retry', 'fail', 'unknown') then v.text
                         else t.last_error end,
       tries = t.tries - case when v.kind = 'retry' and not v.counts
                                   and t.status = 'sending' then 1 else 0 end,
       lease_owner = case when v.kind = 'unknown' then t.lease_owner end,
       lease_until = null,
       updated_at = v.now
  from (select id, attempt, 'sent'::text as kind, 'ref-' || id as text,
               null::timestamptz as at, false as counts, to_timestamp(:now) as now
          from unnest(':ids'::int8[], ':attempts'::int4[]) as u(id, attempt)) v
 where t.id = v.id and t.attempt = v.attempt
   and case v.kind when 'release' then t.status = 'claimed'
                   when 'wait' then t.status = 'claimed'
                   when 'sent' then t.status in ('sending', 'unknown')
                   when 'unknown' then t.status = 'sending'
                   else t.status in ('claimed', 'sending') end
returning t.id;
