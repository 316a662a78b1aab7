select row_key, owner, occurred_at, person_address, person_name, channel, minutes
from raw.manual_interactions
