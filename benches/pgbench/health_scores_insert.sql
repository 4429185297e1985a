-- The floor under the nightly reassessment's write: one new health score row per account in
-- one set-wise statement (the same table, indexes and trigger), copied from the latest run so
-- the rows are as large as real ones. Rolled back, so the history the bench reads is unchanged.
begin;
insert into health_scores
    (account_id, computed_at, score, category, model, components, missing, summary, cause)
select account_id, computed_at + interval '1 hour', score, category, model, components,
       missing, summary, 'reference'
  from health_scores
 where computed_at = (select max(computed_at) from health_scores);
rollback;
