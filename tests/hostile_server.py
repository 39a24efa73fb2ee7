"""A real ``energy-dash serve`` in a subprocess, for the hostile-client tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ENERGY_DASH = str(Path(sys.executable).with_name("energy-dash"))
SECRET = "hostile-test-secret-" + "y" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``energy-dash serve`` on a free loopback port; stop() or kill() it."""

    def __init__(self, database_url: str, instance: Path, *, production: bool = True,
                 workers: int = 2, **env: str) -> None:
        self.database_url = database_url
        self.instance = instance
        self.production = production
        self.workers = workers
        self.extra = env
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60) -> Server:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "ENERGY_DASH_ENV": "production" if self.production else "development",
            "SESSION_SECRET": SECRET,
            "ENERGY_DASH_SCHEDULER": "0",
            "ENERGY_DASH_INSTANCE": str(self.instance),
            "WEB_CONCURRENCY": str(self.workers),
            "ENERGY_DASH_INGEST_RATE": "0",
            **self.extra,
        }
        self.log = open(self.instance / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [ENERGY_DASH, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.read_log()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: {self.read_log()[-2000:]}")

    def read_log(self) -> str:
        return (self.instance / f"server-{self.port}.log").read_text(errors="replace")

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole server (master and workers) at once."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
        self.log.close()


def load_test_module(relative: str):
    """Another test module by its path under tests/ (test folders are not packages,
    and which folder is on sys.path depends on collection order)."""
    import importlib.util

    path = Path(__file__).resolve().parent / relative
    name = path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
