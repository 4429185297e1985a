-- The NPS answers of a list of accounts (`nps_counts`, written beside every new score) are
-- read a probe per account. `replies_nps_idx` holds the same rows by time, and when the
-- statistics are older than the last answers (a table that grew since it was last analysed:
-- a new install, a survey wave) the planner took it for the probe and read the whole 90-day
-- window for each account: 440-540 entries per account at 10,000 accounts and 3,000
-- answers, 40-55 ms a batch of 100 replies, growing with every answer. This index answers the
-- probe by account and holds what it reads, so it is the cheaper one whatever the statistics.
create index replies_nps_account_idx on replies (account_id, received_at)
    include (contact_id, score, id)
    where kind = 'nps' and score is not null;
