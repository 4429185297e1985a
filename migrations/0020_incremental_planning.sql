-- What each account's stored plan was computed from, so that the nightly re-plan skips an
-- account whose inputs are unchanged and whose plan still holds.
create table account_plans (
    account_id  bigint primary key references accounts(id) on delete cascade,
    -- A SHA-256 (hex) of every input of the plan: the account, its contacts and who can be
    -- reached, its recently closed tickets, the touches already handed over, the calendar
    -- configuration and the binary's version.
    inputs      text not null,
    planned_at  timestamptz not null,
    -- Planning the same inputs at any instant from planned_at until this one gives the same
    -- plan (calendar::plan_until).
    holds_until timestamptz not null
);

-- Wake the dispatcher once per statement rather than once per row: a nightly re-plan writes
-- tens of thousands of touches in one statement, and a notification per row cost more than
-- the rows. The dispatcher reads no payload; it looks for due work when woken.
drop trigger touches_notify_trg on touches;
create or replace function touches_notify() returns trigger language plpgsql as $$
begin
    if exists (select 1 from changed where status = 'planned') then
        perform pg_notify('touchbot_outbox', '');
    end if;
    return null;
end $$;
create trigger touches_notify_insert_trg
    after insert on touches referencing new table as changed
    for each statement execute function touches_notify();
create trigger touches_notify_update_trg
    after update on touches referencing new table as changed
    for each statement execute function touches_notify();
