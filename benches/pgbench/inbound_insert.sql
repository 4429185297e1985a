-- The bare-SQL reference of the inbound bench: what the WhatsApp webhook must do before its
-- 200, with nothing around it. One message event of the shape the webhook stores, inserted
-- once under its key (a redelivery would change nothing), in one autocommitted statement.
\set n random(1, 2000000000)
insert into whatsapp_events (event_key, kind, payload, received_at)
values ('msg:wamid.PGBENCH' || :client_id || '.' || :n, 'message',
        '{"message": {"from": "77010000001", "id": "wamid.PGBENCH", "timestamp": "1764590000", "type": "text", "text": {"body": "9 the onboarding was what we needed"}}, "profile_name": "Contact 1"}',
        now())
on conflict (event_key) do nothing;
