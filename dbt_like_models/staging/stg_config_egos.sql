select ego, address, name, timezone, work_start_hour, work_end_hour, work_days
from raw.config_egos
