"""`tiepulse sample DIR`: write the sample organisation, at any size, and the day after it for a daily refresh."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class VolumeChoice(StrEnum):
    light = "light"
    ordinary = "ordinary"


def sample_command(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the sample organisation into")],
    seed: Annotated[int, typer.Option(metavar="N", help="Random seed (same seed, same bytes)")] = 7,
    people: Annotated[int, typer.Option(metavar="N", help="Employees (at least 60)")] = 150,
    months: Annotated[int, typer.Option(metavar="M", help="Months of data ending 2026-06-30 (at least 12)")] = 18,
    externals: Annotated[
        int | None, typer.Option(metavar="N", help="Outside contacts (default: twice the employees, at least 300)")
    ] = None,
    volume: Annotated[
        VolumeChoice,
        typer.Option(help="light: the demo's mail; ordinary: about 30 sent mails and 4 meetings a working day each"),
    ] = VolumeChoice.light,
    next_day: Annotated[
        bool,
        typer.Option(
            "--next-day",
            help="Write only the everyday traffic of the working day after the sample named by the other options",
        ),
    ] = False,
) -> None:
    """Write a believable sample organisation (mail, calendars, logs, directory, contacts, truth.json)."""
    from tiepulse.cli.app import _fail, console
    from tiepulse.sample import ORDINARY, generate_next_day, generate_sample

    outside = externals if externals is not None else max(300, 2 * people)
    chosen = ORDINARY if volume is VolumeChoice.ordinary else None
    began = time.perf_counter()
    try:
        if next_day:
            if chosen is None:
                raise ValueError("--next-day writes everyday traffic: add --volume ordinary")
            with console.status(f"Writing the day after the sample into {out_dir} ..."):
                day = generate_next_day(
                    out_dir, seed=seed, people=people, months=months, externals=outside, volume=chosen
                )
            console.print(
                f"Wrote {day.day} into {day.out_dir}: {day.messages:,} messages ({day.mailbox_copies:,} mailbox "
                f"copies), {day.meetings:,} meetings, in {time.perf_counter() - began:.1f} s.\n\n"
                f"Import it after the sample, analysed as of {day.as_of}:"
            )
            console.print(f"  TIEPULSE_AS_OF={day.as_of} tiepulse import {day.out_dir}", soft_wrap=True)
            return
        with console.status(f"Generating the sample organisation in {out_dir} ..."):
            s = generate_sample(out_dir, seed=seed, people=people, months=months, externals=outside, volume=chosen)
    except ValueError as exc:
        raise _fail(f"{exc}; see `tiepulse sample --help`") from None
    console.print(
        f"Wrote a sample organisation to {s.out_dir} (seed {s.seed}): {s.people} people and {s.externals} outside "
        f"contacts, {s.start} to {s.end}; {s.messages:,} messages ({s.mailbox_copies:,} mailbox copies), "
        f"{s.events:,} calendar events, {s.manual_log_rows:,} hand-logged interactions, in "
        f"{time.perf_counter() - began:.1f} s; the planted patterns are in {s.truth.name}.\n\n"
        f"Import it, analysed as of {s.as_of} (the day after its last data):"
    )
    console.print(f"  TIEPULSE_CONFIG={s.config} TIEPULSE_AS_OF={s.as_of} tiepulse import {s.out_dir}", soft_wrap=True)
