select * from raw.mail_messages
union all by name
select * from raw.gmail_messages
union all by name
select * from raw.graph_messages
