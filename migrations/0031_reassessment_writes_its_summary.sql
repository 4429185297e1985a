-- The reassessment writes the summary rows of its scores itself (`health::store::summary`),
-- from what it has just computed, before it inserts the scores: the trigger that keeps
-- `account_health` for every other writer (an import, a test, a clock writing out of order)
-- read three scores back per account to rebuild a row the reassessment already knew.
-- Rows whose summary already names the inserted score are left as their writer made them;
-- every other row is rebuilt from the history as before.
create or replace function account_health_follow() returns trigger language plpgsql as $$
begin
    perform account_health_refresh(array(
        select distinct n.account_id from new_scores n
         where not exists (select 1 from account_health s
                            where s.account_id = n.account_id and s.score_id = n.id)));
    return null;
end $$;

-- Posts inserted together wake the post dispatcher once, not once per row: the first night of
-- a large portfolio queues tens of thousands of escalation cards in a few statements. The
-- dispatcher reads no payload; it looks for due posts when woken. An update that makes a post
-- due again (a retry, a rescue) still notifies per row, as before.
drop trigger staff_posts_notify_trg on staff_posts;
create trigger staff_posts_notify_trg
    after update of due_at, status, next_attempt_at on staff_posts
    for each row when (new.status = 'planned' and new.delivery = 'now')
    execute function staff_posts_notify();

create function staff_posts_notify_inserted() returns trigger language plpgsql as $$
begin
    if exists (select 1 from new_posts where status = 'planned' and delivery = 'now') then
        perform pg_notify('touchbot_staff_posts', '');
    end if;
    return null;
end $$;
create trigger staff_posts_notify_insert_trg after insert on staff_posts
    referencing new table as new_posts
    for each statement execute function staff_posts_notify_inserted();
