#!/usr/bin/env bash
# The wheel as a user gets it: build it, install it (dependencies pinned to uv.lock) into a fresh virtual
# environment outside the repository, and run it from a folder outside the repository on a tiny mailbox.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
uv="${UV:-$(command -v uv || echo "$HOME/.local/bin/uv")}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "wheel check: $*" >&2; exit 1; }

"$uv" build --quiet --wheel --out-dir "$work/dist" "$repo"
wheel="$(echo "$work"/dist/tiepulse-*.whl)"

# Only the tiepulse package, with every file of the SQL folders (migrations, models and whatever sits beside them).
python3 - "$wheel" "$repo" <<'PY' || fail "the wheel's contents are wrong (above)"
import pathlib, sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
tops = {n.split("/")[0] for n in names}
extra = {t for t in tops if t != "tiepulse" and not t.endswith(".dist-info")}
repo = pathlib.Path(sys.argv[2])
folders = [repo / "sql", repo / "dbt_like_models"]
want = {f"tiepulse/{p.relative_to(repo)}" for d in folders for p in d.rglob("*") if p.is_file() and p.suffix != ".pyc"}
missing = want - set(names)
print(f"wheel: {len(names)} files, {sum(n.endswith('.sql') for n in names)} SQL files, top level {sorted(tops)}")
if extra or missing or not want:
    sys.exit(f"top-level names besides tiepulse: {sorted(extra)}; files missing: {sorted(missing)}")
PY

"$uv" export --quiet --frozen --no-dev --no-emit-project --no-hashes --project "$repo" -o "$work/constraints.txt"
"$uv" venv --quiet --python "$repo/.venv/bin/python" "$work/venv"
"$uv" pip install --quiet --compile-bytecode --python "$work/venv/bin/python" -c "$work/constraints.txt" "$wheel"

cd "$work"
unset TIEPULSE_CONFIG TIEPULSE_PSEUDONYM_KEY DAGSTER_HOME PYTHONPATH
export TIEPULSE_HOME="$work/home" TIEPULSE_AS_OF=2024-04-01 COLUMNS=200
tiepulse="$work/venv/bin/tiepulse"

expected="tiepulse $(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml")"
got="$("$tiepulse" --version)"
[ "$got" = "$expected" ] || fail "--version printed '$got', expected '$expected'"

# Two messages and a 1979 date (quarantined) from Ana's Sent folder, and two calls from her log.
cp "$repo/tests/data/sent.mbox" sent.mbox
printf '%s\n' date,person,channel,minutes 2024-03-04,bo@acme.com,call,20 2024-03-11,cy@partner.example,video,30 \
    > calls.csv

"$tiepulse" import sent.mbox calls.csv --owner ana@acme.com  # lands the rows, then refreshes staging and marts
"$tiepulse" status >/dev/null

counts="$("$tiepulse" sql --format csv "select
    (select count(*) from raw.mail_messages) as mail,
    (select count(*) from raw.manual_interactions) as calls,
    (select count(*) from ops.quarantine) as quarantined,
    (select count(*) from ops.runs where kind = 'refresh' and status = 'success') as refreshes")"
[ "$(echo "$counts" | tr -d '\r' | tail -1)" = "2,2,1,1" ] || fail "unexpected counts after import and refresh: $counts"
echo "wheel check: $expected installed from the wheel; import and refresh ran outside the repository"

# The demo end to end from the wheel alone: sample organisation, import, refresh, reports.
unset TIEPULSE_AS_OF
export TIEPULSE_HOME="$work/demo-home"
"$tiepulse" demo --dir "$work/demo-data" > demo.log || { tail -20 demo.log; fail "tiepulse demo failed (above)"; }
[ -s "$TIEPULSE_HOME/reports/organisation.html" ] || fail "tiepulse demo wrote no organisation report"
personal="$(find "$TIEPULSE_HOME/reports/egos" -name '*.html' | wc -l)"
echo "wheel check: tiepulse demo ran to the end from the wheel (organisation report, $personal personal reports)"
