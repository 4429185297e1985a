-- A contact the bot can no longer reach (blocked it, never started it, a dead number) is told
-- to the account's CSM once, as a post of its own kind.
alter table staff_posts drop constraint staff_posts_kind_check;
alter table staff_posts add constraint staff_posts_kind_check
    check (kind in ('escalation', 'realert', 'cleared', 'ladder', 'sla_breach', 'recovered',
                    'digest', 'weekly', 'relay', 'unreachable'));
