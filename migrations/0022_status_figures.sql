-- The team figures (`touchbot status`, `/status` in chat, the weekly digest) count, over the
-- portfolio, the NPS answers and the touches that asked something in the last 90 days. These
-- partial indexes hold only those rows, by their time, so each count reads its window rather
-- than every reply ever received or the whole outbox (planned, skipped and years of sent
-- touches).
create index replies_nps_idx on replies (received_at, id) include (account_id, contact_id, score)
    where kind = 'nps' and score is not null;

create index touches_asked_sent_idx on touches (sent_at) include (account_id, id)
    where status = 'sent' and contact_id is not null
      and kind in ('nps', 'csat', 'checkin', 'qbr');
