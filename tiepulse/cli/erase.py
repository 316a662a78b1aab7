"""`tiepulse erase --person EMAIL`: remove one person from the warehouse, everything derived from it, and its bytes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from tiepulse.core.warehouse import WarehouseError, open_warehouse

console = Console()


def erase_command(
    person: Annotated[
        str,
        typer.Option("--person", metavar="ADDRESS", help="An address of the person, or their pseudonym (p~...@domain)"),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Erase a person (every address merged into them) from every layer, the files derived from the warehouse and
    the warehouse file's bytes; later imports drop them too. See docs/privacy.md."""
    from tiepulse.cli.app import _fail, _settings
    from tiepulse.core.ducklake import lake_location
    from tiepulse.core.import_context import build_import_context
    from tiepulse.core.keyed_hash import new_or_warehouse_identity_key
    from tiepulse.core.lake_purge import purge_lake
    from tiepulse.pipelines.erasure import (
        DERIVED_ARTEFACTS,
        complete_erasure,
        delete_artefacts,
        erase_from_warehouse,
        find_person,
        rewrite_database,
    )
    from tiepulse.pipelines.refresh import refresh

    settings = _settings()
    given = person.strip().lower()
    address = given if given.startswith("p~") else build_import_context(settings).normaliser().normalise(given)
    if address is None:
        raise _fail(f"--person {person!r} is neither an email address nor a pseudonym (p~...@domain)")
    lake = settings.config.warehouse.backend == "ducklake"
    path = settings.warehouse_path
    stored = lake_location(path, settings.config.warehouse.ducklake).catalog_file if lake else path
    if stored is not None and not stored.exists():
        raise _fail(f"no warehouse at {stored}; check TIEPULSE_HOME")
    try:
        with open_warehouse(path) as con:
            target = find_person(con, address)
            key = new_or_warehouse_identity_key(con)
        if not yes:
            typer.confirm(
                f"Erase this person ({len(target.addresses)} address(es)) from the warehouse and everything derived "
                "from it? This cannot be undone.",
                abort=True,
            )
        with open_warehouse(path) as con:
            outcome = erase_from_warehouse(con, target, key)
        if outcome.already_complete:
            console.print(f"Already erased (erasure {outcome.erasure_id}): nothing of this person is left.")
            return
        artefacts = delete_artefacts(settings.home)
        with console.status("Rebuilding staging and marts without them (Dagster, in-process)..."):
            result = refresh()
        # The deleted bytes go before the erasure is marked complete: one killed on the way is redone when run again.
        if lake:
            with console.status("Rewriting the lake's data files and forgetting its older snapshots..."):
                purge_lake(path, settings.config.warehouse.ducklake)
        else:
            with console.status("Rewriting the warehouse file so the deleted bytes are gone..."):
                rewrite_database(path)
        with open_warehouse(path) as con:
            complete_erasure(con, outcome.erasure_id, artefacts)
    except WarehouseError as exc:
        raise _fail(str(exc)) from None
    removed = {table: n for table, n in outcome.rows_removed.items() if n}
    console.print(
        f"Erased ({'resumed ' if outcome.resumed else ''}erasure {outcome.erasure_id}): "
        + (", ".join(f"{table}: {n:,}" for table, n in removed.items()) or "no rows held them")
        + "."
    )
    for artefact in (a for a in DERIVED_ARTEFACTS if a.path in artefacts):
        console.print(f"Deleted {settings.home / artefact.path}: {artefact.regenerated}.")
    console.print(
        "Later imports and syncs drop them (their addresses are on the erasure list as keyed hashes). Not covered: "
        "copies outside tiepulse (the source exports, backups, extracts taken by BI tools)."
    )
    if not result.success:
        raise _fail(
            "the person is erased, but the refresh after it failed ("
            + (", ".join(result.failed_checks) or "see the Dagster log above")
            + "); run `tiepulse refresh` once the cause is fixed."
        )
