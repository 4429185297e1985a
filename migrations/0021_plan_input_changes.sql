-- The nightly re-plan picks the accounts to plan again with one query instead of reading and
-- hashing every account's inputs: an account is planned again when it has no plan, its plan
-- was made under another calendar configuration or binary, the time its plan holds has
-- passed, or one of its inputs changed since. The last is kept here: every statement that
-- changes an input of the planner (an account, its contacts and consents, its ticket signals,
-- its sent history) notes the accounts it touched, whatever code path ran it. The planner
-- deletes the notes it read before loading an account once its plan is stored; a note
-- written meanwhile stays for the next run.
--
-- Append-only and without a foreign key on purpose: the delivery engine notes every batch it
-- claims and settles, and an upsert or a key check would make its transactions wait on each
-- other or on the planner's account locks.
create table plan_input_changes (
    id          bigserial primary key,
    account_id  bigint not null
);
create index plan_input_changes_account_idx on plan_input_changes (account_id);

-- A hash of the calendar configuration and the binary's version the plan was made under.
-- Existing plans get none, so the first run after this migration plans every account again.
alter table account_plans add column config text not null default '';

-- Accounts: any change but to the columns the planner does not read. A column added later is
-- counted as an input until it is listed here.
create function accounts_note_plan_inputs() returns trigger language plpgsql as $$
begin
    -- A set difference rather than a join of the transition tables: they have no index
    -- and no statistics, and a join of large ones could be planned as a nested loop.
    insert into plan_input_changes (account_id)
    select distinct id from (
        select o.id, to_jsonb(o) - array['name', 'arr_cents', 'locale', 'external_id',
                                          'updated_at'] from old_rows o
        except
        select n.id, to_jsonb(n) - array['name', 'arr_cents', 'locale', 'external_id',
                                          'updated_at'] from new_rows n) d;
    return null;
end $$;
create trigger accounts_plan_inputs_trg
    after update on accounts referencing old table as old_rows new table as new_rows
    for each statement execute function accounts_note_plan_inputs();

-- Contacts: added, removed, or changed in anything the planner reads (same rule as accounts).
create function contacts_note_plan_inputs() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        insert into plan_input_changes (account_id) select distinct account_id from new_rows;
    elsif tg_op = 'DELETE' then
        insert into plan_input_changes (account_id) select distinct account_id from old_rows;
    else
        insert into plan_input_changes (account_id)
        select distinct (j->>'account_id')::bigint from (
            (select to_jsonb(o) - array['name', 'locale', 'unreachable_reason',
                                        'last_inbound_at'] as j from old_rows o
             except
             select to_jsonb(n) - array['name', 'locale', 'unreachable_reason',
                                        'last_inbound_at'] from new_rows n)
            union all
            (select to_jsonb(n) - array['name', 'locale', 'unreachable_reason',
                                        'last_inbound_at'] from new_rows n
             except
             select to_jsonb(o) - array['name', 'locale', 'unreachable_reason',
                                        'last_inbound_at'] from old_rows o)) d;
    end if;
    return null;
end $$;
create trigger contacts_plan_inputs_insert_trg
    after insert on contacts referencing new table as new_rows
    for each statement execute function contacts_note_plan_inputs();
create trigger contacts_plan_inputs_update_trg
    after update on contacts referencing old table as old_rows new table as new_rows
    for each statement execute function contacts_note_plan_inputs();
create trigger contacts_plan_inputs_delete_trg
    after delete on contacts referencing old table as old_rows
    for each statement execute function contacts_note_plan_inputs();

-- Consents (opt-outs): any change.
create function consents_note_plan_inputs() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        insert into plan_input_changes (account_id)
        select distinct c.account_id from old_rows r join contacts c on c.id = r.contact_id;
    else
        insert into plan_input_changes (account_id)
        select distinct c.account_id from new_rows r join contacts c on c.id = r.contact_id;
    end if;
    return null;
end $$;
create trigger consents_plan_inputs_insert_trg
    after insert on contact_consents referencing new table as new_rows
    for each statement execute function consents_note_plan_inputs();
create trigger consents_plan_inputs_update_trg
    after update on contact_consents referencing new table as new_rows
    for each statement execute function consents_note_plan_inputs();
create trigger consents_plan_inputs_delete_trg
    after delete on contact_consents referencing old table as old_rows
    for each statement execute function consents_note_plan_inputs();

-- Signals: the ticket openings and closings behind CSAT surveys.
create function signals_note_plan_inputs() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        insert into plan_input_changes (account_id)
        select distinct account_id from old_rows
         where kind in ('ticket_opened', 'ticket_closed');
    else
        insert into plan_input_changes (account_id)
        select distinct account_id from new_rows
         where kind in ('ticket_opened', 'ticket_closed');
    end if;
    return null;
end $$;
create trigger signals_plan_inputs_insert_trg
    after insert on signals referencing new table as new_rows
    for each statement execute function signals_note_plan_inputs();
create trigger signals_plan_inputs_update_trg
    after update on signals referencing new table as new_rows
    for each statement execute function signals_note_plan_inputs();
create trigger signals_plan_inputs_delete_trg
    after delete on signals referencing old table as old_rows
    for each statement execute function signals_note_plan_inputs();

-- Touches: the history the planner reads is the rows handed to the dispatcher (claimed,
-- sending, sent, unknown) with their key, kind, contact and time sent (else due). A statement
-- notes an account only when that changes: the planner's own writes (planned, skipped,
-- cancelled rows) and the `sending` mark note nothing; a claim, a settle and a release do.
create function touches_note_plan_inputs() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        insert into plan_input_changes (account_id)
        select distinct account_id from new_rows
         where status in ('claimed', 'sending', 'sent', 'unknown');
    elsif tg_op = 'DELETE' then
        insert into plan_input_changes (account_id)
        select distinct account_id from old_rows
         where status in ('claimed', 'sending', 'sent', 'unknown');
    else
        -- The history rows before and after, compared as sets (see accounts above); the
        -- planner's own updates have none on either side.
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
create trigger touches_plan_inputs_insert_trg
    after insert on touches referencing new table as new_rows
    for each statement execute function touches_note_plan_inputs();
create trigger touches_plan_inputs_update_trg
    after update on touches referencing old table as old_rows new table as new_rows
    for each statement execute function touches_note_plan_inputs();
create trigger touches_plan_inputs_delete_trg
    after delete on touches referencing old table as old_rows
    for each statement execute function touches_note_plan_inputs();

-- The outbox's keys to its account and contact are kept by the planner and by triggers rather
-- than by foreign keys: checking them row by row cost more than writing the rows (8 us a key,
-- 0.4 s of a 0.8 s insert of a thousand accounts' plans). The planner writes touches only of
-- accounts it has locked and checks their contacts exist once per chunk; deleting an account
-- or a contact deletes its touches, as the cascade did. Nothing in touchbot deletes either;
-- this keeps a hand-made delete from leaving touches behind.
alter table touches drop constraint touches_account_id_fkey;
alter table touches drop constraint touches_contact_id_fkey;

create function accounts_delete_touches() returns trigger language plpgsql as $$
begin
    delete from touches where account_id in (select id from old_rows);
    return null;
end $$;
create trigger accounts_delete_touches_trg
    after delete on accounts referencing old table as old_rows
    for each statement execute function accounts_delete_touches();

-- The account lock waits for a re-plan storing touches for these contacts to commit, so that
-- the delete sees them; a re-plan that locks after it finds the contact gone.
create function contacts_delete_touches() returns trigger language plpgsql as $$
begin
    perform 1 from accounts where id in (select account_id from old_rows)
     order by id for no key update;
    delete from touches where contact_id in (select id from old_rows);
    return null;
end $$;
create trigger contacts_delete_touches_trg
    after delete on contacts referencing old table as old_rows
    for each statement execute function contacts_delete_touches();
