-- Two facts of a message the importers did not keep: the zone of its Date header (per-ego time zones are inferred
-- from the offsets of the ego's own sent mail) and a short keyed digest of its subject (the subject part of the
-- fingerprint that folds copies of one message kept under different Message-IDs). Rows imported before 008 keep
-- null: re-import the files to fill them (a file is re-read when its size or mtime changes, or after `forget`).
alter table raw.mail_messages add column if not exists utc_offset_minutes integer;   -- Date header zone, minutes east of UTC; null: none, -0000, or an API's UTC time
alter table raw.mail_messages add column if not exists subject_digest varchar;       -- first 8 hex of the subject HMAC under the copy key
alter table raw.gmail_messages add column if not exists utc_offset_minutes integer;
alter table raw.gmail_messages add column if not exists subject_digest varchar;
alter table raw.graph_messages add column if not exists utc_offset_minutes integer;
alter table raw.graph_messages add column if not exists subject_digest varchar;
