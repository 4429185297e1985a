-- A contact erased at their request (right to be forgotten) stays as a tombstone so counts and
-- foreign keys hold: its name is replaced, its address gone, and this records when.
alter table contacts add column erased_at timestamptz;
