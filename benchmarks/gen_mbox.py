"""A large synthetic mbox for the import benchmark: believable headers, tiny bodies, deterministic."""

from __future__ import annotations

import datetime as dt
import random
from email.utils import format_datetime
from pathlib import Path

_DOMAINS = ["acme.example", "globex.example", "initech.example", "gmail.com", "umbrella.example"]


def write_mbox(path: Path, messages: int, *, seed: int = 1, people: int = 5_000) -> int:
    """Write ``messages`` messages to ``path``; return the bytes written."""
    rng = random.Random(seed)
    names = [f"person{i:05d}" for i in range(people)]
    addresses = [f"{n}@{_DOMAINS[i % len(_DOMAINS)]}" for i, n in enumerate(names)]
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    written = 0
    with path.open("wb") as out:
        chunk: list[str] = []
        for i in range(messages):
            sender = rng.randrange(people)
            to = rng.sample(range(people), rng.choice((1, 1, 1, 2, 3, 5)))
            cc = rng.sample(range(people), rng.choice((0, 0, 0, 1, 2)))
            when = start + dt.timedelta(seconds=i * 37 + rng.randrange(30))
            reply = rng.random() < 0.35
            lines = [
                f"From {addresses[sender]} {when:%a %b %d %H:%M:%S %Y}",
                f"Message-ID: <{i}.{seed}@bench.tiepulse>",
                f"Date: {format_datetime(when)}",
                f'From: "Person {sender}" <{addresses[sender]}>',
                "To: " + ", ".join(f"Person {t} <{addresses[t]}>" for t in to),
            ]
            if cc:
                lines.append("Cc: " + ", ".join(addresses[c] for c in cc))
            lines.append(f"Subject: {'Re: ' if reply else ''}Topic {i % 997}")
            if reply and i:
                lines.append(f"In-Reply-To: <{i - 1}.{seed}@bench.tiepulse>")
            lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", "Short body line.", "", ""]
            chunk.append("\n".join(lines))
            if len(chunk) == 10_000:
                written += out.write("".join(chunk).encode())
                chunk.clear()
        written += out.write("".join(chunk).encode())
    return written
