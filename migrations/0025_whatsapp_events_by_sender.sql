-- A drainer claims a batch of WhatsApp events, leaving out every message whose sender has an
-- earlier one still to do: that look-up is one probe of this index per candidate, instead of
-- a scan of every event still pending.
create index whatsapp_events_pending_sender_idx
    on whatsapp_events ((payload->'message'->>'from'), id)
    where done_at is null and kind = 'message';
