-- Replies are looked up by the touch they answer (was it answered? was it asked again?) and
-- by contact (the why question, the comment window); both were sequential scans.
create index replies_touch_idx on replies (touch_id) where touch_id is not null;
create index replies_contact_idx on replies (contact_id, received_at);

-- The every-minute scan for sends left unknown reads only those rows, which are few, out of
-- tables that keep every send ever made.
create index touches_unknown_idx on touches (id) where status = 'unknown';
create index staff_posts_unknown_idx on staff_posts (id) where status = 'unknown';

-- Staff who leave are removed, not deleted: their names stay on the history they made. A
-- removed person has no Telegram id (so commands and buttons treat them as a stranger at once)
-- and no longer holds their name, which a newcomer may then take.
alter table staff add column removed_at timestamptz;
drop index staff_name_key;
create unique index staff_name_key on staff (lower(name)) where removed_at is null;

-- A staff button's action runs once per callback query, however often the update is handled
-- again (a failed answerCallbackQuery, a redelivery).
create table staff_callbacks (
    channel         text not null,
    callback_id     text not null,
    received_at     timestamptz not null default now(),
    primary key (channel, callback_id)
);
