-- 005 on a DuckLake, which only widens column types: the double column is replaced by a varchar one holding the
-- same values (the log is empty on every warehouse at 003, see ../005_alert_log_severity.sql).
alter table ops.alert_log add column severity_label varchar;
update ops.alert_log set severity_label = cast(severity as varchar);
alter table ops.alert_log drop column severity;
alter table ops.alert_log rename column severity_label to severity;
