-- The bare reads behind one account's status: the account, its touches by status, its next
-- touch, its last NPS answer and its latest health score with the components.
select a.id, a.name, a.segment, a.lifecycle, a.renewal_date,
       (select count(*) from touches t where t.account_id = a.id and t.status = 'sent') as sent,
       (select count(*) from touches t where t.account_id = a.id and t.status = 'skipped') as skipped,
       (select t.due_at from touches t where t.account_id = a.id and t.status = 'planned'
         order by t.due_at limit 1) as next_touch,
       (select r.score from replies r where r.account_id = a.id and r.kind = 'nps'
         order by r.received_at desc limit 1) as last_nps,
       (select h.components from health_scores h where h.account_id = a.id
         order by h.computed_at desc, h.id desc limit 1) as health
  from accounts a
 where a.id = :account;
