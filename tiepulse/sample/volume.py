"""Everyday work at ordinary volume: about 30 sent mails a working day to one to five people, about four meetings.

The planted layer (``mail.py``, ``meetings.py``) holds the patterns the truth describes; this layer adds the
ordinary traffic around them, drawn a day at a time with numpy (one generator per day, seeded from the sample's
seed and the day, so a day's traffic is the same whether it is written with the rest or alone) and rendered with
Polars string expressions, a week at a time, appended to the per-person mbox and iCalendar files. Memory stays
bounded by a week of traffic whatever the size of the organisation.

It respects the plan: nothing between the two people of a planted tie (fading or steady, so the truth's counts
of them stay exact), nothing between the
narrowing person and people outside their team after the narrowing began, nothing to an outside contact outside
their active months, no prospects, the meeters written to by nobody and the emailers-only and brokers in no
everyday meeting (a broker's daily mail goes to their own team and the three teams they bridge).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from tiepulse.sample import names
from tiepulse.sample.circles import Circles
from tiepulse.sample.contacts import day_factor
from tiepulse.sample.headers import address_header
from tiepulse.sample.model import Person
from tiepulse.sample.render import CALENDAR_END, calendar_head

REPLY_SHARE = 0.4
"""Share of first mails answered (by their first recipient, to the sender, the others in Cc)."""
RECIPIENTS = np.array([0.45, 0.25, 0.15, 0.10, 0.05])
"""Probability of one to five recipients."""
INVITEES = np.array([0.35, 0.25, 0.15, 0.10, 0.07, 0.05, 0.03])
"""Probability of one to seven invitees besides the organiser."""
PARTSTATS = ("ACCEPTED", "TENTATIVE", "DECLINED", "NEEDS-ACTION")
PARTSTAT_P = np.array([0.85, 0.05, 0.07, 0.03])
CHUNK_DAYS = 7
PLANTED_MEETINGS = 1.1
"""Meetings a day the planted series (standups, 1:1s, syncs) give an employee, roughly: the everyday meetings
add the rest (the truth's ``volume`` section has what was measured)."""
MEETING_SIZE = 2.6
"""Employees per everyday meeting once duplicate and excluded invitees are dropped, corrected for quieter Fridays
and holidays (calibrated on the samples, so that the total comes to ``meetings_per_day``)."""
MAIL_CALIBRATION = 1.1
"""Dropped recipients, quieter Fridays and holidays: the factor that brings the sent mails to ``mails_per_day``."""
MIME = "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n"


@dataclass(frozen=True, slots=True)
class Volume:
    """How busy everyone is, per working day (weekends and the new-year days are much quieter)."""

    mails_per_day: float = 30.0
    """Mails sent per person, replies included."""
    meetings_per_day: float = 4.0
    """Meetings attended per person, the planted layer's standups, 1:1s and syncs included."""


ORDINARY = Volume()


@dataclass(slots=True)
class VolumeCounts:
    messages: int = 0
    replies: int = 0
    recipients: int = 0
    sent_by_employees: int = 0
    meetings: int = 0
    attendances: int = 0
    mailbox_copies: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    event_copies: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _day_rng(seed: int, section: str, day: dt.date) -> np.random.Generator:
    digest = hashlib.sha256(f"tiepulse-sample:{seed}:volume-{section}:{day.isoformat()}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _compact(cols: np.ndarray) -> np.ndarray:
    """Drop duplicates in each row (set to -1) and move the -1 to the right."""
    for j in range(1, cols.shape[1]):
        for i in range(j):
            cols[:, j] = np.where(cols[:, j] == cols[:, i], -1, cols[:, j])
    order = np.argsort(cols < 0, axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1)


class Traffic:
    """Draws and writes the everyday traffic of one organisation."""

    def __init__(self, circles: Circles, *, seed: int, volume: Volume) -> None:
        self.c = circles
        self.seed = seed
        self.volume = volume
        n = len(circles.people)
        rates = np.random.default_rng(int(hashlib.sha256(f"{seed}:volume-rates".encode()).hexdigest()[:15], 16))
        weight = rates.lognormal(0.0, 0.45, n) * np.where(np.pad(circles.is_lead, (0, n - circles.n_internal)), 1.3, 1)
        mail_weight = np.where(circles.writes, weight, 0.0)
        mail_weight /= mail_weight[circles.writes].mean()
        self.mail_rate = mail_weight * volume.mails_per_day * MAIL_CALIBRATION / (1 + REPLY_SHARE)
        meet_weight = np.where(circles.meets, rates.lognormal(0.0, 0.4, n), 0.0)
        meet_weight /= max(meet_weight[circles.meets].mean(), 1e-9)
        wanted = max(volume.meetings_per_day - PLANTED_MEETINGS, 0.0)
        self.meet_rate = meet_weight * wanted / MEETING_SIZE
        people = circles.people
        self.headers = [address_header(p.name, p.email) for p in people]
        self.emails = [p.email for p in people]
        self.cal_tails = [f';CN="{p.name}":mailto:{p.email}\r\n' for p in people]
        self.subjects = [
            f[0].upper() + f[1:] for f in (s.format(t=t) for s in names.SUBJECT_FORMS for t in names.TOPICS)
        ]
        self.titles = [m.format(t=t) for m in names.MEETING_TITLES for t in names.TOPICS]
        self.counts = VolumeCounts(
            mailbox_copies=np.zeros(circles.n_internal, dtype=np.int64),
            event_copies=np.zeros(circles.n_internal, dtype=np.int64),
        )

    # --- drawing ------------------------------------------------------------------------------------------
    def _recipients(self, rng: np.random.Generator, sender: np.ndarray, day: dt.date) -> np.ndarray:
        c = self.c
        m = len(sender)
        ext = c.external_share[sender]
        u = rng.random(m)
        picks = [c.ext_circle, c.close, c.team_circle, c.dept_circle, c.org_circle]
        cuts = np.cumsum([ext, (1 - ext) * 0.55, (1 - ext) * 0.22, (1 - ext) * 0.13], axis=0)
        which = (u[None, :] >= cuts).sum(axis=0)
        v = rng.random(m)
        chosen = np.full(m, -1, dtype=np.int64)
        for k, circle in enumerate(picks):
            mask = which == k
            chosen[mask] = circle.pick(sender[mask], v[mask])
        narrowing = sender == c.narrowing
        if narrowing.any():
            team = c.team_circle.pick(sender[narrowing], v[narrowing])
            if day < c.narrowing_since:
                outside = c.outside_team.pick(sender[narrowing], v[narrowing])
                team = np.where(u[narrowing] < 0.75, outside, team)
            chosen[narrowing] = team
        fallback = c.close.pick(sender, v)
        return np.where(chosen >= 0, chosen, fallback)

    def _local_seconds(self, rng: np.random.Generator, m: int) -> np.ndarray:
        after = rng.random(m) < 0.06
        peak = np.where(rng.random(m) < 0.55, 10.0, 14.5)
        hour = rng.normal(peak, 1.6)
        hour = np.where(hour < 8.0, 16.0 - hour, hour)  # reflected into working time, not piled up at 8:00
        hour = np.where(hour > 18.4, 36.8 - hour, hour)
        hour = np.clip(hour, 8.0, 18.4)
        hour = np.where(after, rng.uniform(18.6, 22.5, m), hour)
        return (hour * 3600).astype(np.int64)

    def day_mail(self, day: dt.date) -> pl.DataFrame:
        c = self.c
        rng = _day_rng(self.seed, "mail", day)
        ordinal = day.toordinal()
        sender = np.repeat(np.arange(len(c.people)), rng.poisson(self.mail_rate * day_factor(day)))
        m = len(sender)
        k = rng.choice(len(RECIPIENTS), size=m, p=RECIPIENTS) + 1
        to = np.stack([np.where(j < k, self._recipients(rng, sender, day), -1) for j in range(5)], axis=1)
        for j in range(5):
            to[:, j] = np.where(c.allowed(sender, to[:, j], ordinal), to[:, j], -1)
        to = _compact(to)
        keep = to[:, 0] >= 0
        sender, to = sender[keep], to[keep]
        m = len(sender)
        utc = self._utc(day, sender, self._local_seconds(rng, m))
        subject = rng.integers(0, len(self.subjects), m)
        body = rng.integers(0, len(names.BODY_LINES), m)
        answered = np.flatnonzero(rng.random(m) < REPLY_SHARE)
        delay = np.clip(np.exp(rng.normal(np.log(2400), 1.0, len(answered))), 60, 20 * 3600).astype(np.int64)
        day_end = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) + 86400 - 1
        # Nobody answers before their own working day starts (8:00 to 9:00 local).
        replier_morning = self._utc(day, to[answered, 0], rng.integers(8 * 3600, 9 * 3600, len(answered)))
        reply_to = np.full((len(answered), 5), -1, dtype=np.int64)
        reply_to[:, 0] = sender[answered]
        reply_cc = np.full((len(answered), 5), -1, dtype=np.int64)
        reply_cc[:, :4] = to[answered, 1:]
        for j in range(4):
            reply_cc[:, j] = np.where(c.allowed(to[answered, 0], reply_cc[:, j], ordinal), reply_cc[:, j], -1)
        reply_cc = _compact(reply_cc)
        originals = pl.DataFrame(
            {
                "n": np.arange(m),
                "sender": sender,
                **{f"t{j}": to[:, j] for j in range(5)},
                **{f"c{j}": np.full(m, -1) for j in range(5)},
                "utc": utc,
                "subject": subject,
                "body": body,
                "parent": np.full(m, -1),
            }
        )
        replies = pl.DataFrame(
            {
                "n": m + np.arange(len(answered)),
                "sender": to[answered, 0],
                **{f"t{j}": reply_to[:, j] for j in range(5)},
                **{f"c{j}": reply_cc[:, j] for j in range(5)},
                "utc": np.minimum(
                    np.maximum(utc[answered] + delay, replier_morning), np.maximum(day_end, utc[answered])
                ),
                "subject": subject[answered],
                "body": rng.integers(0, len(names.BODY_LINES), len(answered)),
                "parent": answered,
            }
        )
        self.counts.messages += m + len(answered)
        self.counts.replies += len(answered)
        self.counts.recipients += int((to >= 0).sum() + (reply_to >= 0).sum() + (reply_cc >= 0).sum())
        self.counts.sent_by_employees += m + int((to[answered, 0] < c.n_internal).sum())
        return pl.concat([originals, replies]).with_columns(day=pl.lit(ordinal, dtype=pl.Int64))

    def day_meetings(self, day: dt.date) -> pl.DataFrame:
        c = self.c
        rng = _day_rng(self.seed, "meetings", day)
        ordinal = day.toordinal()
        organiser = np.repeat(np.arange(len(c.people)), rng.poisson(self.meet_rate * day_factor(day)))
        m = len(organiser)
        k = rng.choice(len(INVITEES), size=m, p=INVITEES) + 1
        width = len(INVITEES)
        invitees = np.full((m, width), -1, dtype=np.int64)
        for j in range(width):
            u, v = rng.random(m), rng.random(m)
            pick = np.where(
                u < 0.7,
                c.close.pick(organiser, v),
                np.where(u < 0.9, c.team_circle.pick(organiser, v), c.dept_circle.pick(organiser, v)),
            )
            pick = np.where((j < k) & (pick >= 0), pick, -1)
            invitees[:, j] = np.where(c.meets[np.maximum(pick, 0)] & (pick != organiser), pick, -1)
        # Everyone in a meeting is in contact with everyone else: check every pair against the plan.
        for j in range(width):
            ok = c.allowed(organiser, invitees[:, j], ordinal)
            for i in range(j):
                ok &= (invitees[:, i] < 0) | c.allowed(invitees[:, i], invitees[:, j], ordinal)
            invitees[:, j] = np.where(ok, invitees[:, j], -1)
        invitees = _compact(invitees)
        keep = invitees[:, 0] >= 0
        organiser, invitees = organiser[keep], invitees[keep]
        m = len(organiser)
        start = (9 * 3600 + 1800 * rng.integers(0, 16, m)).astype(np.int64)
        utc = self._utc(day, organiser, start)
        minutes = np.where(rng.random(m) < 0.55, 30, 60)
        partstat = rng.choice(len(PARTSTATS), size=(m, width), p=PARTSTAT_P)
        self.counts.meetings += m
        self.counts.attendances += m + int((invitees >= 0).sum())
        return pl.DataFrame(
            {
                "n": np.arange(m),
                "organiser": organiser,
                **{f"a{j}": invitees[:, j] for j in range(width)},
                **{f"p{j}": partstat[:, j] for j in range(width)},
                "utc": utc,
                "minutes": minutes,
                "title": rng.integers(0, len(self.titles), m),
                "day": np.full(m, ordinal),
            }
        )

    def _utc(self, day: dt.date, who: np.ndarray, local_seconds: np.ndarray) -> np.ndarray:
        """Epoch seconds of a local time of day on ``day`` in each person's zone (the offset at noon)."""
        midnight = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
        noon = dt.datetime(day.year, day.month, day.day, 12)
        offsets = np.array(
            [int(noon.replace(tzinfo=ZoneInfo(z)).utcoffset().total_seconds()) for z in self.c.tz_names],  # type: ignore[union-attr]
            dtype=np.int64,
        )
        return midnight + local_seconds - offsets[self.c.tz[who]]

    # --- rendering ----------------------------------------------------------------------------------------
    def _lookup(self, column: str, values: list[str]) -> pl.Expr:
        return pl.col(column).replace_strict(list(range(len(values))), values, default=None, return_dtype=pl.String)

    def render_mail(self, frame: pl.DataFrame) -> pl.DataFrame:
        """One row per mailbox copy: ``owner`` (employee position), ``utc`` and the mbox entry ``text``."""
        tz_offsets = self._offset_column(frame)
        msgid = pl.format("<v{}.{}.{}@sample.tiepulse>", "day", "n", pl.lit(self.seed))
        parent_id = pl.format("<v{}.{}.{}@sample.tiepulse>", "day", "parent", pl.lit(self.seed))
        to = pl.concat_str([self._lookup(f"t{j}", self.headers) for j in range(5)], separator=",\n ", ignore_nulls=True)
        cc = pl.concat_str([self._lookup(f"c{j}", self.headers) for j in range(5)], separator=",\n ", ignore_nulls=True)
        subject = self._lookup("subject", self.subjects)
        local = pl.from_epoch(pl.col("utc") + tz_offsets, time_unit="s").dt.strftime("%a, %d %b %Y %H:%M:%S")
        text = pl.concat_str(
            [
                pl.lit("From "),
                self._lookup("sender", self.emails),
                pl.lit(" "),
                pl.from_epoch("utc", time_unit="s").dt.strftime("%a %b %e %H:%M:%S %Y"),
                pl.lit("\nMessage-ID: "),
                msgid,
                pl.lit("\nDate: "),
                local,
                pl.lit(" "),
                self._offset_text(tz_offsets),
                pl.lit("\nFrom: "),
                self._lookup("sender", self.headers),
                pl.lit("\nTo: "),
                to,
                pl.when(pl.col("c0") >= 0).then(pl.lit("\nCc: ") + cc).otherwise(pl.lit("")),
                pl.lit("\nSubject: "),
                pl.when(pl.col("parent") >= 0).then(pl.lit("Re: ") + subject).otherwise(subject),
                pl.when(pl.col("parent") >= 0)
                .then(pl.lit("\nIn-Reply-To: ") + parent_id + pl.lit("\nReferences: ") + parent_id)
                .otherwise(pl.lit("")),
                pl.lit(MIME),
                self._lookup("body", list(names.BODY_LINES)),
                pl.lit("\n\n"),
            ]
        )
        rendered = frame.select("utc", "sender", *[f"t{j}" for j in range(5)], *[f"c{j}" for j in range(5)], text=text)
        owners = ["sender", *[f"t{j}" for j in range(5)], *[f"c{j}" for j in range(5)]]
        return self._copies(rendered, owners)

    def render_meetings(self, frame: pl.DataFrame, stamp: str) -> pl.DataFrame:
        """One row per calendar copy: ``owner``, ``utc`` and the VEVENT ``text``."""
        width = len(INVITEES)
        fmt = "%Y%m%dT%H%M%SZ"
        attendees = [
            pl.when(pl.col(f"a{j}") >= 0).then(
                pl.lit("ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=")
                + self._lookup(f"p{j}", list(PARTSTATS))
                + self._lookup(f"a{j}", self.cal_tails)
            )
            for j in range(width)
        ]
        text = pl.concat_str(
            [
                pl.lit("BEGIN:VEVENT\r\nUID:"),
                pl.format("v{}.{}.{}@sample.tiepulse", "day", "n", pl.lit(self.seed)),
                pl.lit(f"\r\nDTSTAMP:{stamp}\r\nDTSTART:"),
                pl.from_epoch("utc", time_unit="s").dt.strftime(fmt),
                pl.lit("\r\nDTEND:"),
                pl.from_epoch(pl.col("utc") + pl.col("minutes") * 60, time_unit="s").dt.strftime(fmt),
                pl.lit("\r\nSUMMARY:"),
                self._lookup("title", self.titles),
                pl.lit("\r\nORGANIZER"),
                self._lookup("organiser", self.cal_tails),
                pl.lit("ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=CHAIR;PARTSTAT=ACCEPTED"),
                self._lookup("organiser", self.cal_tails),
                *attendees,
                pl.lit("STATUS:CONFIRMED\r\nSEQUENCE:0\r\nEND:VEVENT\r\n"),
            ],
            ignore_nulls=True,
        )
        owners = ["organiser", *[f"a{j}" for j in range(width)]]
        return self._copies(frame.select("utc", *owners, text=text), owners)

    def _copies(self, rendered: pl.DataFrame, owners: list[str]) -> pl.DataFrame:
        parts = [
            rendered.select(owner=pl.col(col), utc="utc", text="text").filter(
                (pl.col("owner") >= 0) & (pl.col("owner") < self.c.n_internal)
            )
            for col in owners
        ]
        return pl.concat(parts).sort("owner", "utc", maintain_order=True)

    def _offset_column(self, frame: pl.DataFrame) -> pl.Expr:
        days = frame["day"].unique().sort().to_list()
        zones = [ZoneInfo(z) for z in self.c.tz_names]
        table = {
            (d, z): int(dt.datetime.fromordinal(d).replace(hour=12, tzinfo=zone).utcoffset().total_seconds())  # type: ignore[union-attr]
            for d in days
            for z, zone in enumerate(zones)
        }
        keys = [d * 16 + z for d, z in table]
        tz = pl.col("sender").replace_strict(list(range(len(self.c.people))), self.c.tz.tolist())
        return (pl.col("day") * 16 + tz).replace_strict(keys, list(table.values()), return_dtype=pl.Int64)

    @staticmethod
    def _offset_text(seconds: pl.Expr) -> pl.Expr:
        minutes = seconds.abs() // 60
        sign = pl.when(seconds < 0).then(pl.lit("-")).otherwise(pl.lit("+"))
        return pl.concat_str(
            [sign, (minutes // 60).cast(pl.String).str.zfill(2), (minutes % 60).cast(pl.String).str.zfill(2)]
        )


def _chunks(days: list[dt.date]) -> Iterator[list[dt.date]]:
    for n in range(0, len(days), CHUNK_DAYS):
        yield days[n : n + CHUNK_DAYS]


def append_copies(copies: pl.DataFrame, paths: list[Path], counts: np.ndarray) -> None:
    """Append each owner's rendered entries, in time order, to their file; count them."""
    grouped = copies.group_by("owner", maintain_order=True).agg(pl.col("text").str.join(""), n=pl.len())
    for owner, text, n in grouped.iter_rows():
        with paths[owner].open("ab") as handle:
            handle.write(text.encode("utf-8"))
        counts[owner] += n


def write_traffic(
    traffic: Traffic,
    days: list[dt.date],
    *,
    mail_dir: Path,
    calendar_dir: Path,
    stamp: dt.datetime,
    tick: Callable[[], None],
) -> None:
    """Append the traffic of ``days`` to the employees' mbox and ics files (calendars are created if missing)."""
    people = traffic.c.people[: traffic.c.n_internal]
    mboxes = [mail_dir / f"{p.local}.mbox" for p in people]
    calendars = [calendar_dir / f"{p.local}.ics" for p in people]
    mail_dir.mkdir(parents=True, exist_ok=True)
    calendar_dir.mkdir(parents=True, exist_ok=True)
    # The emailers-only have no calendar and get none; everyone else's stays open for the week's events.
    opened = [path for n, path in enumerate(calendars) if traffic.c.meets[n] or path.exists()]
    for person, path in zip(people, calendars, strict=True):
        if path in opened:
            _open_calendar(path, person)
    stamp_text = stamp.strftime("%Y%m%dT%H%M%SZ")
    for chunk in _chunks(days):
        mail = pl.concat([traffic.day_mail(day) for day in chunk])
        append_copies(traffic.render_mail(mail), mboxes, traffic.counts.mailbox_copies)
        del mail
        meetings = pl.concat([traffic.day_meetings(day) for day in chunk])
        append_copies(traffic.render_meetings(meetings, stamp_text), calendars, traffic.counts.event_copies)
        tick()
    for path in opened:
        with path.open("ab") as handle:
            handle.write(CALENDAR_END)


def _open_calendar(path: Path, person: Person) -> None:
    """Leave the calendar file open for more events: without its closing line (created with its head)."""
    if not path.exists():
        path.write_bytes(calendar_head(person))
        return
    with path.open("r+b") as handle:
        handle.seek(-len(CALENDAR_END), 2)
        if handle.read() != CALENDAR_END:
            raise RuntimeError(f"{path} does not end with {CALENDAR_END!r}; the generator has a bug")
        handle.seek(-len(CALENDAR_END), 2)
        handle.truncate()
