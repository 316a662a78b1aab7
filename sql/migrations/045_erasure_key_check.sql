-- Which identity key made each erasure-list hash (a short keyed value that tells keys apart): a machine given
-- another key would no longer recognise the erased, so the list refuses it instead. Re-runnable.
alter table ops.erasure_list add column if not exists key_check varchar;
