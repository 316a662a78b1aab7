select kind, value
from raw.config_identity
