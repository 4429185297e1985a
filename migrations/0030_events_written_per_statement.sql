-- The outgoing events of replies, escalations and health scores are written once per
-- statement instead of once per row. The nightly reassessment inserts a score for every
-- account and opens escalations in groups: a trigger call, an event insert and a delivery
-- insert per row cost more than the rows themselves. The events and their order are the
-- same as before: one per row that qualifies, in the order the rows were written.

-- Writes one event of `kind` per element (the arrays side by side, in the order given) and
-- one delivery per event for every live subscription that asked for `kind`.
create function touchbot_emit_all(kind text, accounts bigint[], payloads jsonb[],
                                  ats timestamptz[]) returns void
language plpgsql as $$
declare
    events bigint[];
begin
    if cardinality(accounts) is null or cardinality(accounts) = 0 then
        return;
    end if;
    with written as (
        insert into outgoing_events (kind, account_id, payload, occurred_at)
        select kind, u.account, u.payload, u.at
          from unnest(accounts, payloads, ats) with ordinality as u(account, payload, at, n)
         order by u.n
        returning id)
    select array_agg(id) into events from written;
    insert into webhook_deliveries (event_id, subscription_id)
    select e.id, s.id
      from unnest(events) as e(id)
      join webhook_subscriptions s on s.removed_at is null and kind = any(s.events)
     order by e.id, s.id;
end $$;

drop trigger replies_emit_trg on replies;
create function replies_emit_rows() returns trigger language plpgsql as $$
begin
    perform touchbot_emit_all('nps_answer', array_agg(n.account_id order by n.id),
        array_agg(jsonb_build_object(
            'account_id', n.account_id, 'contact_id', n.contact_id, 'reply_id', n.id,
            'touch_id', n.touch_id, 'channel', n.channel, 'score', n.score,
            'comment', n.comment) order by n.id),
        array_agg(n.received_at order by n.id))
      from new_replies n
     where n.kind = 'nps' and n.score is not null;
    return null;
end $$;
create trigger replies_emit_trg after insert on replies
    referencing new table as new_replies
    for each statement execute function replies_emit_rows();

drop trigger escalations_opened_trg on escalations;
drop trigger escalations_resolved_trg on escalations;
-- Announces the escalations `changed` as they stand after the statement.
create function escalations_announce(kind text, changed bigint[]) returns void
language sql as $$
    select touchbot_emit_all(kind, array_agg(e.account_id order by e.id),
        array_agg(jsonb_build_object(
            'account_id', e.account_id, 'escalation_id', e.id, 'reason', e.reason,
            'severity', e.severity, 'status', e.status, 'outcome', e.outcome) order by e.id),
        array_agg(coalesce(e.resolved_at, e.opened_at) order by e.id))
      from escalations e
     where e.id = any(changed)
$$;

create function escalations_opened_rows() returns trigger language plpgsql as $$
begin
    perform escalations_announce('escalation_opened',
                                 array(select n.id from new_escalations n));
    return null;
end $$;
create trigger escalations_opened_trg after insert on escalations
    referencing new table as new_escalations
    for each statement execute function escalations_opened_rows();

-- A statement trigger with transition tables cannot name columns, so every update of
-- escalations runs it; only the rows that became resolved are announced.
create function escalations_resolved_rows() returns trigger language plpgsql as $$
begin
    perform escalations_announce('escalation_resolved', array(
        select n.id from new_escalations n join old_escalations o on o.id = n.id
         where n.status = 'resolved' and o.status <> 'resolved'));
    return null;
end $$;
create trigger escalations_resolved_trg after update on escalations
    referencing old table as old_escalations new table as new_escalations
    for each statement execute function escalations_resolved_rows();

drop trigger health_scores_emit_trg on health_scores;
-- A score whose category differs from the account's scored one just before it (by time, so
-- rows inserted together by one statement are compared in order).
create function health_emit_rows() returns trigger language plpgsql as $$
begin
    perform touchbot_emit_all('health_category_changed',
        array_agg(n.account_id order by n.id),
        array_agg(jsonb_build_object('account_id', n.account_id, 'from', b.category,
                                     'to', n.category, 'score', n.score) order by n.id),
        array_agg(n.computed_at order by n.id))
      from new_scores n
      cross join lateral (select h.category from health_scores h
                           where h.account_id = n.account_id and h.category is not null
                             and (h.computed_at, h.id) < (n.computed_at, n.id)
                           order by h.computed_at desc, h.id desc limit 1) b
     where n.category is not null and b.category is distinct from n.category;
    return null;
end $$;
create trigger health_scores_emit_trg after insert on health_scores
    referencing new table as new_scores
    for each statement execute function health_emit_rows();

drop function health_emit();
drop function escalations_emit();
drop function replies_emit();
