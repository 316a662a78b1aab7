-- description: Every sighting of a message in a mailbox, from files and from the Gmail and Graph connectors (same columns as raw.mail_messages).
-- not_null: message_key, mailbox_owner
select * from raw.mail_messages
union all by name
select * from raw.gmail_messages
union all by name
select * from raw.graph_messages
