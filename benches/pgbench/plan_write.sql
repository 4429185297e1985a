-- The bare-SQL floor of storing a full plan: the very rows touchbot stored, inserted set-wise
-- into an empty copy of the outbox (same columns, constraints and indexes) a chunk of
-- :size accounts per transaction, as touchbot does; two clients, as touchbot uses both cores.
-- Nothing is computed: every value is read from the stored plan.
select nextval('plan_chunks') - 1 as chunk \gset
insert into touches_copy (account_id, touch_key, rule, kind, category, template, contact_id,
                          staff_id, due_at, status, status_reason, notes, created_at, updated_at)
select account_id, touch_key, rule, kind, category, template, contact_id, staff_id, due_at,
       status, status_reason, notes, created_at, updated_at
from touches
where account_id > :chunk * :size and account_id <= (:chunk + 1) * :size;
