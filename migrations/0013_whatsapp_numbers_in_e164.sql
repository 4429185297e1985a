-- WhatsApp numbers are kept in E.164 with their '+' (+77011234567). Numbers stored before as
-- digits alone get their '+', so a number typed either way is one contact.
update contacts c
   set address = '+' || c.address
 where c.channel = 'whatsapp'
   and c.address ~ '^[1-9][0-9]{7,14}$'
   and not exists (
       select 1 from contacts o
        where o.channel = 'whatsapp' and o.address = '+' || c.address and o.removed_at is null
   );
