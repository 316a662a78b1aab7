-- Identity facts the importers did not keep (docs/data-model.md, "Added in version 018"): the Exchange X.500 paths
-- of a message's X-From / X-To / X-cc headers, each paired with the address it stands for when that is certain,
-- and the record's addresses that the import classified as not people while they were in clear (so the
-- classification survives pseudonymisation). Rows imported earlier keep null until their files are re-imported.
alter table raw.mail_messages add column if not exists x500_sender varchar;   -- X-From's path (x500:/o=.../cn=..., or its keyed hash)
alter table raw.mail_messages add column if not exists x500_recipients struct(kind varchar, x500 varchar, address varchar)[];   -- X-To / X-cc paths, with the To / Cc address at the same position when the lists align
alter table raw.mail_messages add column if not exists non_person_addresses struct(address varchar, reason varchar)[];   -- automated, list_id, group_name
alter table raw.gmail_messages add column if not exists x500_sender varchar;
alter table raw.gmail_messages add column if not exists x500_recipients struct(kind varchar, x500 varchar, address varchar)[];
alter table raw.gmail_messages add column if not exists non_person_addresses struct(address varchar, reason varchar)[];
alter table raw.graph_messages add column if not exists x500_sender varchar;
alter table raw.graph_messages add column if not exists x500_recipients struct(kind varchar, x500 varchar, address varchar)[];
alter table raw.graph_messages add column if not exists non_person_addresses struct(address varchar, reason varchar)[];
alter table raw.calendar_events add column if not exists non_person_addresses struct(address varchar, reason varchar)[];
alter table raw.gcal_events add column if not exists non_person_addresses struct(address varchar, reason varchar)[];
alter table raw.graph_events add column if not exists non_person_addresses struct(address varchar, reason varchar)[];
