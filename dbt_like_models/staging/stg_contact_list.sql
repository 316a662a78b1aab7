select owner, email, bucket, cadence_days
from raw.contacts
