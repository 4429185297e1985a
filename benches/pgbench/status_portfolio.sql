-- The bare aggregate behind the portfolio's status: per CSM, the accounts, their latest health
-- by category and its average, its move over 30 days and the touches answered, in one query
-- over every account's summary row (`account_health`), as the figures read them.
select a.csm_id,
       count(*) as accounts,
       count(*) filter (where s.category = 'green') as green,
       count(*) filter (where s.category = 'yellow') as yellow,
       count(*) filter (where s.category = 'red') as red,
       avg(s.score) as average,
       avg(s.score - s.score_30d_ago) as change_30d,
       sum(s.asked) as asked,
       sum(s.answered) as answered,
       sum(s.waiting) as waiting
  from accounts a
  left join account_health s on s.account_id = a.id
 group by a.csm_id;
