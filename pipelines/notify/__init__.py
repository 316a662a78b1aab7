"""Alert digests delivered by email and chat through apprise, each alert once per channel (docs/notifications.md).

``channels`` reads the configured channels, ``digests`` picks what is due and writes the text, ``deliveries`` keeps
the delivery state in ``ops`` and ``send`` talks to apprise; ``run.send_due`` ties them together for the CLI and
the Dagster sensor's job.
"""


class NotifyError(ValueError):
    """Digests cannot be sent as configured or on this warehouse; the message says what to do."""
