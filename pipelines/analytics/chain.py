"""The analysis chain, written once: record participants -> ties -> co-occurrence edges -> network health -> alerts.

Pure: frames in, frames out, as of one date (no Dagster, no DuckDB). The CLI's ``--as-of`` and the tests call
:func:`analyse_network`. The Dagster assets publish each step as its own mart, so that a failed quality check on
one stops the steps after it; they call the same steps (:func:`~tiepulse.pipelines.analytics.ties.compute_ties`,
:func:`network_health`, :func:`~tiepulse.pipelines.analytics.alerts.compute_alerts`) on the marts published
before, and a test holds both paths to the same result (tests/analytics/test_chain.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import cached_property

import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.alerts import compute_alerts
from tiepulse.pipelines.analytics.brokerage import RecordIndex, record_participants
from tiepulse.pipelines.analytics.coverage import observe_egos
from tiepulse.pipelines.analytics.health import compute_network_health
from tiepulse.pipelines.analytics.ties import compute_ties


@dataclass(frozen=True)
class NetworkInputs:
    """What the chain reads (pipelines.network_io names the warehouse table behind each)."""

    interactions: pl.DataFrame
    """From :func:`~tiepulse.pipelines.analytics.interactions.build_interaction_records`."""
    persons: pl.DataFrame
    contacts: pl.DataFrame
    messages: pl.DataFrame
    message_recipients: pl.DataFrame
    event_attendees: pl.DataFrame
    observation_windows: pl.DataFrame | None = None
    """What was observed of each mailbox folder, calendar and log (``intermediate.int_observation_windows``); None:
    everything, for all time."""
    addresses: pl.DataFrame | None = None
    """Address to person (``intermediate.int_addresses_resolved``), to resolve the windows' owners."""
    alert_state: pl.DataFrame | None = None
    """The alert life-cycle so far (``ops.alert_state``); None: no alert seen yet."""
    records_after: dt.datetime | None = None
    """The messages and meetings are those with an interaction after this instant only (None: all of them): no
    brokerage is asked at a date whose activity window starts before it."""

    @cached_property
    def participants(self) -> pl.DataFrame:
        """Who took part in each message and meeting: computed once, shared by every date analysed."""
        return record_participants(self.messages, self.message_recipients, self.event_attendees)

    @cached_property
    def records(self) -> RecordIndex:
        """The records of the interactions joined to their participants once, for the brokerage at every date."""
        return RecordIndex.of(self.interactions, self.participants, self.records_after)

    def of_egos(self, egos: pl.Series) -> NetworkInputs:
        """These inputs narrowed to the interactions of ``egos``, sharing what was computed from them for every date
        (the participants, the record index): computed again for each month analysed, those cost more than the
        month's brokerage itself."""
        narrowed = replace(self, interactions=self.interactions.filter(pl.col("ego_id").is_in(egos.implode())))
        # the cached properties' caches, filled in advance
        narrowed.__dict__.update(participants=self.participants, records=self.records.of_egos(egos))
        return narrowed

    def observation(self, day: dt.date | dt.datetime, params: AnalyticsParams) -> pl.DataFrame | None:
        """What was observed of each ego at ``day`` (``observe_egos``); None without windows."""
        if self.observation_windows is None or self.addresses is None:
            return None
        return observe_egos(self.observation_windows, self.addresses, day, params)


@dataclass(frozen=True)
class NetworkAnalysis:
    """The chain's frames at one date, with the columns of the marts that publish them."""

    ties: pl.DataFrame
    health: pl.DataFrame
    alerts: pl.DataFrame
    alert_state: pl.DataFrame
    """The alert life-cycle after this date (what ``ops.alert_state`` holds after a refresh)."""


def network_health(
    inputs: NetworkInputs, day: dt.date | dt.datetime, params: AnalyticsParams, ties: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Every ego's network health at ``day``, from ``ties`` at that day (computed when not given)."""
    ties = ties if ties is not None else compute_ties(inputs.interactions, inputs.persons, inputs.contacts, day, params)
    edges = inputs.records.edges(day, params)
    return compute_network_health(
        ties, inputs.interactions, inputs.persons, inputs.contacts, day, params, edges, inputs.observation(day, params)
    )


def analyse_network(inputs: NetworkInputs, as_of: dt.date, params: AnalyticsParams | None = None) -> NetworkAnalysis:
    """Ties, network health and alerts at ``as_of``: what a refresh publishes, computed in memory."""
    params = params or AnalyticsParams()
    ties = compute_ties(inputs.interactions, inputs.persons, inputs.contacts, as_of, params)
    health = network_health(inputs, as_of, params, ties)
    alerts, state = compute_alerts(
        ties, health, inputs.persons, as_of, params, inputs.alert_state, inputs.observation(as_of, params)
    )
    return NetworkAnalysis(ties, health, alerts, state)
