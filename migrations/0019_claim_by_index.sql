-- The claim of due touches walks the due index in order and stops after its batch. The held-back
-- rule was a scalar function the planner cannot see into: it guessed that almost no touch
-- passes it and read and sorted every planned touch on each claim instead (cost growing with
-- the queue: 45 ms a claim at 10,000 due touches). As a set-returning SQL function it is
-- inlined into the claim, which then stops after its batch (0.2 ms).

-- The takeovers holding back a touch of `category` to `contact` at `at`: none for a renewal
-- notice or an internal reminder.
create function touch_holds(contact bigint, category text, at timestamptz)
returns setof timestamptz language sql stable as $$
    select k.until from contact_takeovers k
     where contact is not null and category <> 'renewal'
       and k.contact_id = contact and k.ended_at is null and k.until > at
$$;

-- Until when a touch is held back (null: not held), from the same rule.
create or replace function touch_held_until(contact bigint, category text, at timestamptz)
returns timestamptz language sql stable as $$
    select max(h) from touch_holds(contact, category, at) h
$$;
