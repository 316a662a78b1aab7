"""From, To, Cc and Bcc of a batch as columns, with ``AddressLists.parse`` semantics and ``AddressNormaliser``.

A value made only of the simple entries ``address_lists._ENTRY`` reads (and without ``/``, so no X.500 path to
shield) is split and read with the same regular expression here, for the whole column at once; its distinct raw
addresses and names then go through ``AddressNormaliser.normalise`` and ``decode_name`` (few per batch, and
cached). Any other value is parsed by ``AddressLists.parse`` itself, once per distinct value. A message keeps
each address once (the first of From, and across To, Cc, Bcc in that order the first, with its kind and name);
entries whose address is unusable count as bad.
"""

from __future__ import annotations

import polars as pl

from ...addresses import decode_name
from ..address_lists import AddressLists
from .text import SPACE

KINDS = ("from", "to", "cc", "bcc")

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR = rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*"
_ENTRY = (
    rf'{SPACE}*(?:(?:"(?P<quoted>[^"\\]*)"|(?P<name>[^",<>()\[\]:;@\\]*?)){SPACE}*<(?P<angled>{_ADDR})>'
    rf"|(?P<bare>{_ADDR})){SPACE}*"
)
_SIMPLE_LIST = rf"^(?:[, \t]|{_ENTRY}(?:,|$))*$"
"""The values ``AddressLists._entries`` splits: separators, and entries each followed by a comma or the end."""

RECIPIENT = pl.Struct({"kind": pl.String, "address": pl.String, "name": pl.String})
_ENTRIES = {"v": pl.UInt32, "r": pl.UInt32, "k": pl.UInt8, "address": pl.String, "name": pl.String}


def _simple_entries(values: pl.DataFrame, lists: AddressLists) -> pl.DataFrame:
    """Entries of simple values, in order, with the normalised address (null when unusable) and decoded name."""
    entries = (
        values.select("v", "r", "k", pl.col("value").str.extract_all(_ENTRY).alias("entry"))
        .explode("entry")
        .drop_nulls("entry")
    )
    distinct = entries["entry"].unique()
    groups = distinct.str.extract_groups("^" + _ENTRY).struct.unnest()
    raw_address = groups["angled"].fill_null(groups["bare"])
    raw_name = groups["quoted"].fill_null(groups["name"]).fill_null("")
    normaliser = lists.normaliser
    addresses = raw_address.unique()
    address = raw_address.replace_strict(
        addresses, list(map(normaliser.normalise, addresses.to_list())), return_dtype=pl.String
    )
    if normaliser.pseudonymised:
        name = pl.repeat(None, len(distinct), dtype=pl.String, eager=True)
    else:
        names = raw_name.unique()
        name = raw_name.replace_strict(
            names, [decode_name(n) if n else None for n in names.to_list()], return_dtype=pl.String
        )
    parsed = pl.DataFrame([distinct.alias("entry"), address.alias("address"), name.alias("name")])
    return entries.join(parsed, on="entry", how="left", maintain_order="left").select(*_ENTRIES)


def _parsed_entries(values: pl.DataFrame, lists: AddressLists) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Entries (usable addresses only) and bad counts per value of the values ``AddressLists.parse`` reads."""
    distinct = values["value"].unique().to_list()
    parsed = [lists.parse(value) for value in distinct]
    found = pl.DataFrame(
        {
            "value": [value for value, (pairs, _) in zip(distinct, parsed, strict=True) for _ in pairs],
            "address": [address for pairs, _ in parsed for address, _ in pairs],
            "name": [name for pairs, _ in parsed for _, name in pairs],
        },
        schema={"value": pl.String, "address": pl.String, "name": pl.String},
    )
    bad = pl.DataFrame(
        {"value": distinct, "bad": [n for _, n in parsed]}, schema={"value": pl.String, "bad": pl.UInt32}
    )
    entries = values.join(found, on="value", how="inner", maintain_order="left_right").select(*_ENTRIES)
    counts = values.join(bad, on="value", how="left", maintain_order="left").select("r", "k", "bad")
    return entries, counts


def address_columns(fields: pl.DataFrame, lists: AddressLists) -> pl.DataFrame:
    """Per row ``r``: from_address, from_name, recipients, from_bad and recipient_bad (unusable entries)."""
    values = (
        pl.concat(
            [
                fields.select("r", pl.lit(k, pl.UInt8).alias("k"), pl.col(kind).alias("value"))
                for k, kind in enumerate(KINDS)
            ]
        )
        .filter(pl.col("value").str.len_bytes() > 0)
        .with_row_index("v")  # kind-major: within one row, From, then To, Cc, Bcc
    )
    simple = pl.col("value").str.contains(_SIMPLE_LIST) & ~pl.col("value").str.contains("/", literal=True)
    values = values.with_columns(simple=simple)
    entries = _simple_entries(values.filter("simple"), lists)
    bad = entries.filter(pl.col("address").is_null()).select("r", "k", pl.lit(1, pl.UInt32).alias("bad"))
    others = values.filter(~pl.col("simple"))
    if len(others):
        more, more_bad = _parsed_entries(others, lists)
        entries = pl.concat([entries, more]).sort("v", maintain_order=True)
        bad = pl.concat([bad, more_bad])
    good = entries.filter(pl.col("address").is_not_null())
    sender = good.filter((pl.col("k") == 0) & pl.col("r").is_first_distinct()).select(
        "r", pl.col("address").alias("from_address"), pl.col("name").alias("from_name")
    )
    kind = pl.col("k").replace_strict({1: "to", 2: "cc", 3: "bcc"}, return_dtype=pl.String)
    recipients = (
        good.filter(pl.col("k") > 0)
        .unique(subset=["r", "address"], keep="first", maintain_order=True)
        .group_by("r", maintain_order=True)
        .agg(pl.struct(kind.alias("kind"), "address", "name").alias("recipients"))
    )
    counts = bad.group_by("r").agg(
        pl.col("bad").filter(pl.col("k") == 0).sum().alias("from_bad"),
        pl.col("bad").filter(pl.col("k") > 0).sum().alias("recipient_bad"),
    )
    return (
        fields.select("r")
        .join(sender, on="r", how="left", maintain_order="left")
        .join(recipients, on="r", how="left", maintain_order="left")
        .join(counts, on="r", how="left", maintain_order="left")
        .with_columns(
            pl.col("recipients").fill_null(pl.lit([], pl.List(RECIPIENT))),
            pl.col("from_bad").fill_null(0),
            pl.col("recipient_bad").fill_null(0),
        )
    )
