-- The planner inserts a chunk's plans, some 31,500 touches, in one statement. Its insert
-- triggers referenced the inserted rows as a transition table, so PostgreSQL kept a copy of
-- every row (6 MB a chunk, spilled to a temporary file past work_mem) for two triggers that
-- then read them all: a fifth of the cost of the insert, measured on a chunk. Neither needs
-- the copy.
--
-- Waking the dispatcher: every statement that inserts touches wakes it. Only the planner
-- inserts touches, and its plans hold planned ones; a wake with nothing due costs the
-- dispatcher one look for due work. Updates still wake it only for planned rows (0020).
drop trigger touches_notify_insert_trg on touches;
create function touches_notify_inserted() returns trigger language plpgsql as $$
begin
    perform pg_notify('touchbot_outbox', '');
    return null;
end $$;
create trigger touches_notify_insert_trg
    after insert on touches
    for each statement execute function touches_notify_inserted();

-- Noting a changed sent history (0021): an inserted row changes it only if it is already
-- handed to the dispatcher, which the planner's rows (planned, skipped) never are. A row
-- trigger with that condition fires for no planner row, and still for any history row
-- inserted by anyone else.
drop trigger touches_plan_inputs_insert_trg on touches;
create function touches_note_inserted_history() returns trigger language plpgsql as $$
begin
    insert into plan_input_changes (account_id) values (new.account_id);
    return null;
end $$;
create trigger touches_plan_inputs_insert_trg
    after insert on touches
    for each row when (new.status in ('claimed', 'sending', 'sent', 'unknown'))
    execute function touches_note_inserted_history();

-- The statement trigger's function keeps only what it still does: updates and deletes.
create or replace function touches_note_plan_inputs() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        insert into plan_input_changes (account_id)
        select distinct account_id from old_rows
         where status in ('claimed', 'sending', 'sent', 'unknown');
    else
        -- The history rows before and after, compared as sets; the planner's own updates
        -- have none on either side.
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
