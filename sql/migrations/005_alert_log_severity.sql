-- ops.alert_log.severity holds the alert's label (high | medium | low), as marts.mart_alerts does. 003 declared it
-- a double, so the new-alerts job could never insert a row (the log is empty on every warehouse at 003).
alter table ops.alert_log alter column severity type varchar;
