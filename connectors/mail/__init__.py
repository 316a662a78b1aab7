"""Mail file importers: mbox, Google Takeout mbox, gzip mbox, maildir, .eml (headers only; see README.md).

``claims(path)`` names the format of a path this package imports; ``MailFileSource(path, format)`` reads it as
pages for ``pipelines.loader.commit_page``; ``parse_ahead(sources, ctx)`` parses an import's upcoming mbox files
in worker processes while earlier ones are committed. ``iter_header_blocks`` and ``bare_split`` expose the framing for
benchmarks.
"""

from __future__ import annotations

from .ahead import parse_ahead
from .framing import bare_split
from .reading import iter_header_blocks
from .sniff import claims
from .source import FORMATS, MailFileSource

__all__ = ["FORMATS", "MailFileSource", "bare_split", "claims", "iter_header_blocks", "parse_ahead"]
