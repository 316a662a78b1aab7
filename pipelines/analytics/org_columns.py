"""The ONA marts' period labels (their columns are described under ``columns:`` in each mart's ``.yml``)."""

from __future__ import annotations

CURRENT = "current"
"""The period of the window ending at the analysis date (the others are months, 'YYYY-MM')."""
