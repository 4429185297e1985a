-- The bare aggregate behind the portfolio's status: per CSM, the accounts, their latest health
-- by category and its average, in one query over every account.
select a.csm_id,
       count(*) as accounts,
       count(*) filter (where h.category = 'green') as green,
       count(*) filter (where h.category = 'yellow') as yellow,
       count(*) filter (where h.category = 'red') as red,
       avg(h.score) as average
  from accounts a
  left join lateral (select score, category from health_scores
                      where account_id = a.id
                      order by computed_at desc, id desc limit 1) h on true
 group by a.csm_id;
