"""``AddressNormaliser.non_person_addresses`` for a batch's rows at once: each row's From and recipients (in that
order, each address once) with the reason the import tells, from the patterns the normaliser matched in clear and
the addresses each distinct List-Id may name."""

from __future__ import annotations

import polars as pl

from ...addresses import AUTOMATED, LIST_ID, AddressNormaliser


def non_person_column(rows: pl.DataFrame, normaliser: AddressNormaliser) -> pl.DataFrame:
    """``r`` and ``non_person_addresses`` (a list of ``{address, reason}``) of the rows that have any."""
    addresses = (
        rows.select(
            "r",
            "list_id",
            pl.concat_list(pl.col("from_address"), pl.col("recipients").list.eval(pl.element().struct.field("address")))
            .list.drop_nulls()
            .list.unique(maintain_order=True)
            .alias("address"),
        )
        .explode("address")
        .drop_nulls("address")
    )
    reasons = normaliser.pattern_reasons
    pattern = pl.col("address").replace_strict(
        list(reasons), list(reasons.values()), default=None, return_dtype=pl.String
    )
    list_ids = rows["list_id"].drop_nulls().unique().to_list()
    named = pl.DataFrame(
        [(i, a) for i in list_ids for a in normaliser.list_addresses(i)],
        schema={"list_id": pl.String, "address": pl.String},
        orient="row",
    ).with_columns(listed=pl.lit(True))
    return (
        addresses.join(named, on=["list_id", "address"], how="left", maintain_order="left")
        .with_columns(
            reason=pl.when(pattern == AUTOMATED)
            .then(pattern)
            .when(pl.col("listed"))
            .then(pl.lit(LIST_ID))
            .otherwise(pattern)
        )
        .filter(pl.col("reason").is_not_null())
        .group_by("r", maintain_order=True)
        .agg(pl.struct("address", "reason").alias("non_person_addresses"))
    )
