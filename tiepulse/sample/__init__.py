"""A deterministic sample organisation for demos and tests: mail, calendars, logs, directory and the truth.

``generate_sample(out_dir)`` writes mbox files, iCalendar files, CSVs, a ``config.yaml`` and ``truth.json``
(the planted patterns the analytics should find). See ``README.md`` in this package.
"""

from tiepulse.sample.generator import (
    NextDaySummary,
    ProgressCallback,
    SampleSummary,
    generate_next_day,
    generate_sample,
)
from tiepulse.sample.volume import ORDINARY, Volume

__all__ = [
    "ORDINARY",
    "NextDaySummary",
    "ProgressCallback",
    "SampleSummary",
    "Volume",
    "generate_next_day",
    "generate_sample",
]
