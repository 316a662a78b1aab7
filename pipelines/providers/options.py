"""A provider's section of the config file, validated by its connector's options model; errors as ConfigError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from tiepulse.connectors.sync_source import OptionsError
from tiepulse.core.settings import ConfigError


def problem_lines(exc: ValidationError, section: str) -> str:
    """One line per invalid field: ``  google.gmail.batch_size: <why> (got 500)``."""
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(section)"
        problems.append(f"  {section}.{field}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(problems)


@contextmanager
def as_config_errors() -> Iterator[None]:
    """Options a connector refuses are a configuration problem for the person running tiepulse."""
    try:
        yield
    except OptionsError as exc:
        raise ConfigError(str(exc)) from None
