-- A check-in answer's choice (good, help, manager): a request for help or for the client's
-- manager opens an escalation, so it is kept as data, not left inside the message text.
alter table replies add column choice text check (choice in ('good', 'help', 'manager'));
create index replies_help_idx on replies (account_id, received_at) where choice in ('help', 'manager');
