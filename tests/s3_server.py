"""A local S3-compatible object store for the tests: moto's server mode on 127.0.0.1 and a free port. It takes any
credentials; the tests give DuckDB theirs through the standard AWS variables, as a deployment would."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3

from tests.local_servers import die_with_parent, free_port, wait_for

REGION = "us-east-1"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class ObjectStore:
    """The running server: ``endpoint`` (``127.0.0.1:PORT``) for DuckDB, a client for the test's own look."""

    def __init__(self, port: int) -> None:
        self.endpoint = f"127.0.0.1:{port}"
        # moto checks no signature: the test's client needs no real keys, and never sees the lake's
        self.client = boto3.client(
            "s3",
            endpoint_url=f"http://{self.endpoint}",
            aws_access_key_id="test-client",
            aws_secret_access_key="test-client",
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> None:
        self.client.create_bucket(Bucket=name)

    def keys(self, bucket: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@contextmanager
def s3_server(folder: Path) -> Iterator[ObjectStore]:
    """moto's S3 on a free port, stopped at the end."""
    port = free_port()
    log = (folder / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )
    try:
        wait_for(lambda: process.poll() is None and _answers(port), f"moto's S3 server on port {port}", 120)
        yield ObjectStore(port)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
