-- Tries apart from the fencing token. `attempt` goes up on every claim so a rescued worker's
-- late result is refused; `tries` counts only hand-overs that a channel failed, so waiting
-- (a 429, a paused chat, a missing channel or team chat) never uses up `max_attempts`, and an
-- operator's requeue starts the count again.
alter table touches add column tries integer not null default 0;
alter table staff_posts add column tries integer not null default 0;
update touches set tries = attempt where status in ('failed', 'unknown', 'planned');
update staff_posts set tries = attempt where status in ('failed', 'unknown', 'planned');

-- Until when a touch is held back by a CSM's conversation with its contact (null: not held).
-- The one rule both the claim and the dispatcher's "when is the next one due" use, so a held
-- touch is never "due" while it cannot be claimed.
create function touch_held_until(contact bigint, category text, at timestamptz)
returns timestamptz language sql stable as $$
    select max(k.until) from contact_takeovers k
     where contact is not null and category <> 'renewal'
       and k.contact_id = contact and k.ended_at is null and k.until > at
$$;
