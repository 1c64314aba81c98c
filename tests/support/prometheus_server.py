"""A real Prometheus server (Debian's `prometheus` binary) on a free loopback port, with a
configuration written for the test, queried through its HTTP API."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, BinaryIO

import requests
import yaml

from tests.support.processes import free_port, wait_until

BINARY = shutil.which("prometheus")


class PrometheusServer:
    def __init__(self, directory: Path, scrape_configs: list[dict[str, Any]]) -> None:
        self.directory = directory
        self.port = free_port()
        self._config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": scrape_configs,
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        assert BINARY is not None
        config = self.directory / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config), "utf-8")
        self._log = (self.directory / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [
                BINARY,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        wait_until(lambda: requests.get(f"{self.url}/-/ready", timeout=1).ok, "prometheus")
        return self

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector (`/api/v1/query`)."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def scalar(self, promql: str) -> float | None:
        """The single value of a query that yields one sample, or None when none yet."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(15)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
