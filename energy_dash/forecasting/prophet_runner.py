"""Prophet fits in killable worker processes, with a deadline per fit.

Every fit runs in a worker started with the ``forkserver`` method (``spawn``
where unavailable): the fork server preloads Prophet once, so each fit starts in
milliseconds, and it is safe from threaded servers and schedulers, unlike a
plain ``fork``. The worker leads its own process group, so on the deadline the
whole group - CmdStan's optimizer executable included - is killed with SIGKILL
(a thread could not be stopped). The first failure or timeout stops the call's
remaining fits, so a stuck optimiser costs one timeout, not one per fold.
``timeout=None`` fits in-process without a deadline (debugging).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


class ProphetFailure(Exception):
    """A Prophet fit raised or ran out of time; the message is user-facing."""


def quiet_prophet_logging() -> None:
    """Silence the INFO chatter of cmdstanpy and prophet (call after importing)."""
    try:
        from cmdstanpy.utils.logging import get_logger

        get_logger()  # cached: it will not reset the level again later
    except Exception:  # pragma: no cover - only without cmdstanpy
        pass
    for name in ("cmdstanpy", "prophet", "prophet.plot", "prophet.forecaster"):
        logging.getLogger(name).setLevel(logging.WARNING)


def fit_predict(
    train: pd.DataFrame, future: pd.DataFrame, config: dict[str, Any]
) -> np.ndarray:
    """Fit one Prophet model and return ``yhat`` for ``future`` (runs in a worker).

    ``config["defaults"]`` fits Prophet exactly as shipped (its own seasonality
    choices); otherwise the energy configuration: linear trend, weekly Fourier
    order ``weekly_order``, separate daily profiles of ``daily_order`` terms for
    working days and off days, holidays of ``country``, extra ``regressors``.
    """
    from prophet import Prophet

    quiet_prophet_logging()
    if config.get("defaults"):
        m = Prophet(uncertainty_samples=0)
    else:
        m = Prophet(
            growth="linear",
            yearly_seasonality=False,
            weekly_seasonality=config["weekly_order"],
            daily_seasonality=False,
            seasonality_mode=config["seasonality_mode"],
            uncertainty_samples=0,
            mcmc_samples=0,
        )
        order = config["daily_order"]
        if order:
            m.add_seasonality(
                "daily_workday", period=1, fourier_order=order, condition_name="workday"
            )
            m.add_seasonality(
                "daily_offday", period=1, fourier_order=order, condition_name="offday"
            )
        if config.get("country"):
            m.add_country_holidays(country_name=config["country"])
        for name in config.get("regressors", ()):
            m.add_regressor(name, mode="additive")
    with warnings.catch_warnings():
        # pandas deprecation notices raised inside Prophet's own code
        warnings.filterwarnings("ignore", module=r"prophet(\.|$)")
        m.fit(train)
        return m.predict(future)["yhat"].to_numpy(dtype=float)


def _fit_worker(conn: multiprocessing.connection.Connection, task: tuple) -> None:
    try:
        if hasattr(os, "setsid"):
            os.setsid()  # lead a process group: a kill reaches CmdStan too
        conn.send(("ok", fit_predict(*task)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


_CONTEXT: Any = None


def _mp_context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload([__name__, "prophet"])
        else:  # pragma: no cover - Windows
            ctx = multiprocessing.get_context("spawn")
        _CONTEXT = ctx
    return _CONTEXT


def _stop(proc: Any) -> None:
    if proc.is_alive():
        if hasattr(os, "killpg"):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        proc.kill()
    proc.join(5)


def run_fits(
    tasks: Sequence[tuple],
    timeout: float | None,
    n_jobs: int,
    while_waiting: Callable[[], None] | None = None,
) -> list[np.ndarray]:
    """Run ``(train, future, config)`` fits; ``ProphetFailure`` on the first failure.

    ``while_waiting`` runs in this process once the workers are started, so other
    models are computed while Prophet fits on the other cores.
    """
    if timeout is None:
        if while_waiting is not None:
            while_waiting()
        out = []
        for task in tasks:
            try:
                out.append(fit_predict(*task))
            except Exception as exc:
                raise ProphetFailure(
                    f"prophet failed: {type(exc).__name__}: {exc}"
                ) from exc
        return out
    ctx = _mp_context()
    pending = list(enumerate(tasks))
    running: dict[int, tuple[Any, Any, float]] = {}
    results: list = [None] * len(tasks)
    try:
        while pending or running:
            while pending and len(running) < n_jobs:
                i, task = pending.pop(0)
                reader, writer = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_fit_worker, args=(writer, task), daemon=True)
                try:
                    proc.start()
                except Exception as exc:
                    reader.close()
                    raise ProphetFailure(
                        f"prophet failed: could not start a worker: {exc}"
                    ) from exc
                finally:
                    writer.close()
                running[i] = (proc, reader, time.monotonic() + timeout)
            if while_waiting is not None:
                work, while_waiting = while_waiting, None
                work()
            wait = max(0.0, min(d for _, _, d in running.values()) - time.monotonic())
            ready = multiprocessing.connection.wait(
                [r for _, r, _ in running.values()], timeout=wait
            )
            now = time.monotonic()
            for i, (proc, reader, deadline) in list(running.items()):
                if reader in ready:
                    try:
                        status, value = reader.recv()
                    except (EOFError, OSError):
                        proc.join(1)
                        status, value = "error", f"worker exited ({proc.exitcode})"
                    del running[i]
                    _stop(proc)
                    reader.close()
                    if status != "ok":
                        raise ProphetFailure(f"prophet failed: {value}")
                    results[i] = value
                elif now >= deadline:
                    raise ProphetFailure(f"prophet fit timed out after {timeout:g} s")
    finally:
        for proc, reader, _ in running.values():
            _stop(proc)
            reader.close()
    return results
