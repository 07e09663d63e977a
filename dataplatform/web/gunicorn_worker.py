"""gunicorn's gthread worker with a lane of its own for the health probes.

In the gthread worker every request waits for a free thread of one pool. When all of them are
busy (reads stuck on a hung DynamoDB, a burst of slow pages), a load balancer's probe queues
behind them and the instance is declared dead although it is only busy. Here the main loop
peeks (MSG_PEEK, nothing consumed) at the request line of each readable connection: `GET` or
`HEAD` of /health/live or /health/ready goes to a small pool of its own; everything else to the
normal pool. The probe views answer from memory or within their own time budget, so the lane
never fills. TLS sockets are not peeked (the bytes are encrypted): behind a TLS-terminating
proxy, as in production, this costs nothing."""

from __future__ import annotations

import logging
import socket
import threading
from concurrent import futures
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

PROBE_PREFIXES = (
    b"GET /health/live ", b"GET /health/ready ", b"HEAD /health/live ", b"HEAD /health/ready ",
    b"GET /health/live?", b"GET /health/ready?", b"HEAD /health/live?", b"HEAD /health/ready?",
)
PEEK_BYTES = 32
PROBE_THREADS = 4


logger = logging.getLogger(__name__)


def warm_calendars() -> None:
    """Import the exchange and holiday calendars (exchange_calendars brings pandas and numpy:
    ~2 s on an idle core, several under load) so the first datasets or attention page a worker
    serves does not spend its request deadline on imports."""
    try:
        from dataplatform.pipeline.calendars import exchange_codes

        exchange_codes()
        import holidays  # noqa: F401 - the import is the point
    except Exception:  # a page that needs them imports them itself (and reports what fails)
        logger.exception("calendar warm-up failed")


def is_probe(head: bytes) -> bool:
    """True when `head` (the first bytes of a request) asks for a health probe."""
    return head.startswith(PROBE_PREFIXES)


class ProbeLaneWorker(ThreadWorker):
    """See the module docstring (`worker_class` in gunicorn.conf.py)."""

    def init_process(self) -> None:
        self.probe_pool = futures.ThreadPoolExecutor(max_workers=PROBE_THREADS, thread_name_prefix="probe")
        # In the background: the worker serves at once; a request that needs the calendars
        # meanwhile waits on the same import.
        threading.Thread(target=warm_calendars, name="warm-calendars", daemon=True).start()
        super().init_process()

    def _peek(self, conn: Any) -> bytes:
        if self.cfg.is_ssl:
            return b""
        try:
            return bytes(conn.sock.recv(PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except OSError:  # nothing there yet, or the peer left: the normal path handles it
            return b""

    def enqueue_req(self, conn: Any) -> None:
        if is_probe(self._peek(conn)):
            conn.init()
            fs = self.probe_pool.submit(self.handle, conn)
            self._wrap_future(fs, conn)
            return
        super().enqueue_req(conn)

    def handle_quit(self, sig: Any, frame: Any) -> None:
        self.probe_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)
