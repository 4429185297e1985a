-- A staff post that a worker claimed and put back until a later time (it waits for a channel
-- or a team chat this process lacks, or its chat was paused) no longer wakes the post
-- dispatcher. The dispatcher's own passes read their next due time after settling; a post
-- that a producer put back (an answer to a chat the platform paused) is found by the
-- dispatcher's poll, at most a poll interval after it falls due.
-- Before, each such put-back woke the dispatcher for a pass that found nothing due; with no
-- Telegram configured, every escalation card did that each time it was claimed. A post that
-- becomes due now still wakes it, as do a put-back from 'sending' (a failed try) and every
-- bring-forward.
drop trigger staff_posts_notify_trg on staff_posts;
create trigger staff_posts_notify_trg
    after update of due_at, status, next_attempt_at on staff_posts
    for each row when (new.status = 'planned' and new.delivery = 'now'
                       and not (old.status = 'claimed'
                                and coalesce(new.next_attempt_at > now(), false)))
    execute function staff_posts_notify();
