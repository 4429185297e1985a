-- A post for a contact who had no address the bot could reach (a CSM's reply relayed to a
-- contact who has not joined yet) waits, longer each time it is found still waiting, up to
-- the backoff cap (an hour by default). When the contact gets an address, by a join link, a
-- `contact update` or the API, the post is due at once: the update below wakes the post
-- dispatcher through the queue's own trigger. Written here once, so no path that sets an
-- address can forget it.
create function contacts_bring_posts_forward() returns trigger language plpgsql as $$
begin
    update staff_posts
       set next_attempt_at = now(), updated_at = now()
     where contact_id = new.id and status = 'planned' and delivery = 'now'
       and next_attempt_at > now();
    return null;
end $$;

create trigger contacts_bring_posts_forward_trg
    after update of address, channel on contacts
    for each row when (new.address is not null and new.removed_at is null
                       and (old.address is distinct from new.address
                            or old.channel is distinct from new.channel))
    execute function contacts_bring_posts_forward();

-- Only the posts still to go, so a join costs a probe however long the sent history grows.
create index staff_posts_planned_contact_idx on staff_posts (contact_id)
    where status = 'planned' and contact_id is not null;
