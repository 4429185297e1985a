-- The bot's answers to clients no longer wake the post dispatcher when they are queued, and a
-- statement that queues many posts wakes it once.
--
-- An answer's producer (the WhatsApp drainer, the Telegram handler) delivers it itself at
-- once; the dispatcher takes one only when it is still waiting HANDOVER_SECONDS after its
-- message (a crash, an outage), which its next-due read or its poll finds. Under a burst of
-- replies every batch's answers woke the dispatcher to look for due posts, find none (they are
-- due ten seconds on) and read its next due time: 1,800 statements for 3,000 replies, 18% of
-- the handling's statement time, for nothing. An answer put back to wait or to be retried is
-- an update, and still wakes it.
--
-- The notification carries no post id any more (the listener reads none): PostgreSQL sends
-- identical notifications of one transaction once, so a statement queueing a hundred posts
-- sends one, not a hundred.
create or replace function staff_posts_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('touchbot_staff_posts', '');
    return null;
end $$;

drop trigger staff_posts_notify_trg on staff_posts;
create trigger staff_posts_notify_insert_trg after insert on staff_posts
    for each row when (new.status = 'planned' and new.delivery = 'now' and new.kind <> 'answer')
    execute function staff_posts_notify();
create trigger staff_posts_notify_update_trg
    after update of due_at, status, next_attempt_at on staff_posts
    for each row when (new.status = 'planned' and new.delivery = 'now')
    execute function staff_posts_notify();
