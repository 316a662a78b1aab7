"""A deterministic sample organisation for demos and tests: mail, calendars, logs, directory and the truth.

``generate_sample(out_dir)`` writes mbox files, iCalendar files, CSVs, a ``config.yaml`` and ``truth.json``
(the planted patterns the analytics should find). See ``README.md`` in this package.
"""

from tiepulse.sample.generator import ProgressCallback, SampleSummary, generate_sample

__all__ = ["ProgressCallback", "SampleSummary", "generate_sample"]
