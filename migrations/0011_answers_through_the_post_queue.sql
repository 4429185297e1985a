-- The bot's answer to a client's message (a thank-you, "why?", a re-ask) is queued with the
-- message's key before it is sent, so a crash between storing an answer and thanking for it
-- leaves a post to deliver (once) instead of a client never thanked.
alter table staff_posts drop constraint staff_posts_kind_check;
alter table staff_posts add constraint staff_posts_kind_check
    check (kind in ('escalation', 'realert', 'cleared', 'ladder', 'sla_breach', 'recovered',
                    'digest', 'weekly', 'relay', 'unreachable', 'relay_reply', 'answer'));
