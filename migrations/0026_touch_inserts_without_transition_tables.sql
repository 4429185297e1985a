-- The planner inserts a chunk's plans, some 31,500 touches, in one statement. Its insert
-- triggers referenced the inserted rows as a transition table, so PostgreSQL kept a copy of
-- every row (6 MB a chunk, spilled to a temporary file past work_mem) for two triggers that
-- then read them all: a chunk's rows took 392 ms with them, 337 ms with the triggers below
-- and 300 ms with none (medians in psql; the staff foreign key is the rest).
-- Neither needs the copy.
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
-- inserted by anyone else. touches_note_plan_inputs() (0021) keeps its insert branch, no
-- longer reached: it still serves the update and delete triggers.
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

