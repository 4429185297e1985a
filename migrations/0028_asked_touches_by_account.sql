-- The asked touches of a range of accounts, for the reassessment's chunks: without it the
-- planner walks `touches_asked_sent_idx` over the whole portfolio's window and keeps a
-- chunk's share (600,000 entries read for 12,000 kept at 100,000 accounts, 0.2-0.3 s a query).
create index touches_asked_account_idx on touches (account_id, sent_at)
    where status = 'sent' and contact_id is not null
      and kind in ('nps', 'csat', 'checkin', 'qbr');
