select alias, canonical
from raw.config_aliases
