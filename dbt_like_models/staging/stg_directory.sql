select email, other_emails, name, team, department, org_unit, manager_email, location, is_internal
from raw.directory
