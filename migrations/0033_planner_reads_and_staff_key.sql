-- 0026 moved the insert trigger of `touches` off touches_note_plan_inputs() but left the
-- function's insert branch behind, no longer reached. It now does what its update and delete
-- triggers ask and nothing else; an inserted history row is noted by
-- touches_note_inserted_history() (0026).
create or replace function touches_note_plan_inputs() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        insert into plan_input_changes (account_id)
        select distinct account_id from old_rows
         where status in ('claimed', 'sending', 'sent', 'unknown');
    else
        -- The history rows before and after, compared as sets (0021); the planner's own
        -- updates have none on either side.
        insert into plan_input_changes (account_id)
        select distinct account_id from (
            (select id, account_id, touch_key, kind, contact_id, coalesce(sent_at, due_at)
               from old_rows where status in ('claimed', 'sending', 'sent', 'unknown')
             except
             select id, account_id, touch_key, kind, contact_id, coalesce(sent_at, due_at)
               from new_rows where status in ('claimed', 'sending', 'sent', 'unknown'))
            union all
            (select id, account_id, touch_key, kind, contact_id, coalesce(sent_at, due_at)
               from new_rows where status in ('claimed', 'sending', 'sent', 'unknown')
             except
             select id, account_id, touch_key, kind, contact_id, coalesce(sent_at, due_at)
               from old_rows where status in ('claimed', 'sending', 'sent', 'unknown'))) d;
    end if;
    return null;
end $$;

-- The outbox's key to staff, like those to accounts and contacts before it (0021): checked
-- row by row it cost 20-26 ms of a first-plan chunk's 31,500 rows. Only the planner writes
-- `touches.staff_id`, and it now checks the staff its plans name once per chunk, locking
-- them as the key did (`for key share`), so a delete meanwhile waits for the plans and then
-- sees them. Staff are removed, never deleted, by touchbot (0010); a hand-made delete still
-- empties the touches' `staff_id` as `on delete set null` did (and is refused, as it was, for
-- any touch the check on one recipient then fails).
alter table touches drop constraint touches_staff_id_fkey;

create function staff_delete_touches() returns trigger language plpgsql as $$
begin
    update touches set staff_id = null where staff_id in (select id from old_rows);
    return null;
end $$;
create trigger staff_delete_touches_trg
    after delete on staff referencing old table as old_rows
    for each statement execute function staff_delete_touches();
