-- The bot's answers to clients no longer wake the post dispatcher when they are queued.
--
-- An answer's producer (the WhatsApp drainer, the Telegram handler) delivers it itself at
-- once; the dispatcher takes one only when it is still waiting HANDOVER_SECONDS after its
-- message (a crash, an outage), which its next-due read or its poll finds. Under a burst of
-- replies every batch's answers woke the dispatcher to look for due posts, find none (they are
-- due ten seconds on) and read its next due time: 1,800 statements for 3,000 replies, 18% of
-- the handling's statement time, for nothing. An answer put back to wait or to be retried is
-- an update, and still wakes it (`staff_posts_notify_trg`, per row).
--
-- The notification carries no post id any more (the listener reads none): PostgreSQL sends
-- identical notifications of one transaction once, so updates making many posts due in one
-- transaction send one. Inserts already notify once per statement (0031).
create or replace function staff_posts_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('touchbot_staff_posts', '');
    return null;
end $$;

create or replace function staff_posts_notify_inserted() returns trigger language plpgsql as $$
begin
    if exists (select 1 from new_posts
                where status = 'planned' and delivery = 'now' and kind <> 'answer') then
        perform pg_notify('touchbot_staff_posts', '');
    end if;
    return null;
end $$;
