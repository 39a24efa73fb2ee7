"""How ``energy-dash serve`` runs in production: gunicorn workers with waitress inside.

gunicorn's ``gthread`` worker hands a connection to a thread as soon as its headers
arrive, and that thread then blocks reading the body: a few dozen clients that
send ``Content-Length: 1000`` and then trickle bytes hold every thread, and
``/healthz`` stops answering. Waitress reads each request, body included, in its
non-blocking reactor and gives it to a thread only once it is complete, so a slow
client costs a socket and a buffer, never a thread. gunicorn stays the process
manager (workers, heartbeats, restarts); :class:`WaitressWorker` is its worker
class. Idle connections (no byte received or sent for ``CHANNEL_TIMEOUT_S``) are
closed; each worker keeps at most ``CONNECTION_LIMIT`` connections open.
"""

from __future__ import annotations

import logging
import os

from gunicorn.workers.base import Worker

logger = logging.getLogger(__name__)

CONNECTION_LIMIT = 1000  # open connections per worker (slow or idle clients)
CHANNEL_TIMEOUT_S = 30  # an idle connection (no byte either way) is closed
MAX_REQUEST_BODY = 17 * 1024 * 1024  # the bulk endpoint's 16 MiB plus headroom
LOOP_TIMEOUT_S = 1.0  # the reactor wakes this often to beat gunicorn's heartbeat


def waitress_options(threads: int) -> dict:
    """Waitress adjustments shared by the production worker and the dev server."""
    return {
        "threads": threads,
        "connection_limit": CONNECTION_LIMIT,
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "cleanup_interval": 5,
        "max_request_body_size": MAX_REQUEST_BODY,
        "ident": "energy-dash",
        "asyncore_use_poll": True,
    }


class WaitressWorker(Worker):
    """A gunicorn worker that serves its listeners with waitress's reactor."""

    def run(self) -> None:
        from waitress import wasyncore
        from waitress.server import create_server

        threads = max(1, int(self.cfg.threads or 8))
        sockets = [listener.sock for listener in self.sockets]
        server = create_server(
            self.wsgi, sockets=sockets, **waitress_options(threads)
        )
        socket_map = getattr(server, "map", None) or server._map
        try:
            while self.alive:
                self.notify()
                if self.ppid != os.getppid():
                    logger.info("parent changed, worker %s stopping", self.pid)
                    break
                wasyncore.loop(
                    timeout=LOOP_TIMEOUT_S, map=socket_map, use_poll=True, count=1
                )
        finally:
            server.task_dispatcher.shutdown()
            wasyncore.close_all(socket_map)


def serve_single(wsgi_app, host: str, port: int, threads: int = 8) -> None:
    """One process (development): the same waitress reactor, no gunicorn."""
    from waitress import serve

    serve(wsgi_app, host=host, port=port, **waitress_options(threads))


__all__ = ["WaitressWorker", "serve_single", "waitress_options"]
