-- Inbound under faults: updates that keep failing are kept for staff, the work that follows a
-- reply is durable, a webhook update is claimed under a lease and marked done after handling,
-- and a touch can have one answer whatever the application does.

-- An inbound update that failed again and again while the database was answering: kept with
-- its raw payload so staff can see why and replay it (`touchbot inbound dead-letters`).
create table inbound_dead_letters (
    id              bigserial primary key,
    channel         text not null,
    -- the platform's id of the update (Telegram's update_id), for the log and for dedup.
    external_id     text not null,
    payload         jsonb not null,
    error           text not null,
    tries           integer not null check (tries > 0),
    first_failed_at timestamptz not null,
    last_failed_at  timestamptz not null,
    replays         integer not null default 0,
    replayed_at     timestamptz,
    -- set when a replay was handled: nothing left to do.
    resolved_at     timestamptz,
    unique (channel, external_id)
);

-- What has to happen after an inbound message or a signal was stored (reassess the account,
-- re-plan its touches, pass the words to the CSM). Written in the same transaction as the
-- message, done afterwards, once per (source, step): a crash in between leaves a row to do.
create table inbound_followups (
    id              bigserial primary key,
    -- the idempotency key of the signal that caused it ('reply:telegram:…', 'cli:…').
    source_key      text not null,
    step            text not null check (step in ('reassess', 'replan', 'forward')),
    account_id      bigint not null references accounts(id) on delete cascade,
    contact_id      bigint references contacts(id) on delete cascade,
    reply_id        bigint references replies(id) on delete cascade,
    occurred_at     timestamptz not null,
    created_at      timestamptz not null default now(),
    done_at         timestamptz,
    tries           integer not null default 0,
    last_error      text,
    unique (source_key, step)
);
create index inbound_followups_pending_idx on inbound_followups (created_at)
    where done_at is null;

-- Webhook updates are claimed under a lease and marked done once handled: an id claimed by
-- an instance that died is handled again when its lease runs out.
alter table telegram_updates add column claimed_until timestamptz;
alter table telegram_updates add column done_at timestamptz;
-- failed tries while the database answered: after a few the update is set aside.
alter table telegram_updates add column tries integer not null default 0;
update telegram_updates set done_at = received_at;

-- One answer per touch and contact. Where older data holds more than one, the first stands
-- and the later ones are kept as unlinked replies.
update replies r set touch_id = null
 where r.touch_id is not null and r.kind <> 'unclear'
   and exists (select 1 from replies e
                where e.touch_id = r.touch_id and e.contact_id = r.contact_id
                  and e.kind <> 'unclear' and e.id < r.id);
create unique index replies_one_answer_per_touch on replies (touch_id, contact_id)
    where touch_id is not null and kind <> 'unclear';

-- A CSM's reply to a client during a takeover is queued as a post whose reader is the
-- contact, keyed by the staff message it answers: delivered once by the post dispatcher,
-- never sent twice for a redelivered update, never lost to a crash between tap and send.
alter table staff_posts add column contact_id bigint references contacts(id) on delete cascade;
alter table staff_posts drop constraint staff_posts_kind_check;
alter table staff_posts add constraint staff_posts_kind_check
    check (kind in ('escalation', 'realert', 'cleared', 'ladder', 'sla_breach', 'recovered',
                    'digest', 'weekly', 'relay', 'unreachable', 'relay_reply'));
