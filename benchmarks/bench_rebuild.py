"""One stage of the analytics rebuilt whole on an existing warehouse, its CPU seconds and peak memory.

For a warehouse too big to refresh again and again (the ``--keep`` folder of ``benchmarks.bench_org``): the
interactions (``fct_interactions`` by ranges of egos) or one per-ego mart (``ties``, ``ties_monthly``,
``network_health``) is rebuilt from the tables it reads, as the refresh's step does with ``--full``, with
``--shards N`` for the first N ego shards of a per-ego mart only; with ``--incremental``, a per-ego mart is refreshed as
an ordinary refresh does it (a later ``TIEPULSE_AS_OF`` than its last refresh: a day's cost of the stage). It
**writes** the warehouse (the stage's table is replaced): point it at a copy. The settings come from the
environment as for ``tiepulse`` itself. Run:
``TIEPULSE_HOME=DIR/home TIEPULSE_CONFIG=DIR/sample/config.yaml TIEPULSE_AS_OF=2026-07-01
python -m benchmarks.bench_rebuild network_health [--shards N]``.
"""

from __future__ import annotations

import argparse
import os
import time

from benchmarks.common import peak_rss_mb, timed
from tiepulse.core.params import params_for
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.ego_marts import (
    EgoRun,
    refresh_network_health,
    refresh_ties,
    refresh_ties_monthly,
    shards_of,
)
from tiepulse.pipelines.interaction_records import refresh_interactions

EGO_MARTS = {"ties": refresh_ties, "ties_monthly": refresh_ties_monthly, "network_health": refresh_network_health}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["interactions", *EGO_MARTS])
    parser.add_argument("--shards", type=int, default=None, help="only the first N ego shards (per-ego marts)")
    parser.add_argument(
        "--incremental", action="store_true", help="refresh a per-ego mart as an ordinary refresh does, not whole"
    )
    args = parser.parse_args()
    settings = Settings()
    con = connect(settings.warehouse_path)
    params = params_for(settings)
    started = time.process_time()
    if args.stage == "interactions":
        done, wall = timed(lambda: refresh_interactions(con, params, full=True))
    else:
        shards = shards_of(con)[: args.shards]
        run = EgoRun(con, settings.as_of, params, shards, full=not args.incremental)
        done, wall = timed(lambda: EGO_MARTS[args.stage](run))
    print(done)
    print(
        f"{args.stage}: {wall:.1f} s wall, {time.process_time() - started:.1f} CPU s, peak {peak_rss_mb():,.0f} MB, "
        f"load {' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    con.close()


if __name__ == "__main__":
    main()
