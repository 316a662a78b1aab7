"""Source-neutral HTTP reliability: retry policy with backoff and Retry-After, and a quota pacer."""
