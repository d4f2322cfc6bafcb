#!/usr/bin/python3
"""hardstack reference service for the VM fleet: standard library only (Python 3.9+).

GET /         a JSON document naming the service, its version and environment
GET /healthz  liveness: 200 while the process serves
GET /readyz   readiness: 200 once started, 503 from SIGTERM on, so the load balancer drains it
Prometheus metrics on their own port (--metrics-port): request counts by handler, method and
code, and request durations, so the fleet's SLO and Prometheus read what users get.
On SIGTERM it reports not ready, keeps serving for --drain-seconds, then exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

VERSION = "1.0.0"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HANDLERS = ("/", "/healthz", "/readyz")


class Metrics:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = {}
        self.durations: dict[str, tuple[list[int], float]] = {}

    def observe(self, handler: str, method: str, code: int, seconds: float) -> None:
        with self.lock:
            key = (handler, method, str(code))
            self.requests[key] = self.requests.get(key, 0) + 1
            counts, total = self.durations.get(handler, ([0] * len(BUCKETS), 0.0))
            counts = [c + (1 if seconds <= le else 0) for c, le in zip(counts, BUCKETS)]  # noqa: B905 (hosts run Python 3.9)
            self.durations[handler] = (counts, total + seconds)

    def render(self) -> str:
        lines = [
            "# HELP http_requests_total HTTP requests served, by handler, method and status code.",
            "# TYPE http_requests_total counter",
        ]
        with self.lock:
            for (handler, method, code), n in sorted(self.requests.items()):
                lines.append(f'http_requests_total{{handler="{handler}",method="{method}",code="{code}"}} {n}')
            lines += [
                "# HELP http_request_duration_seconds Time to serve a request, by handler.",
                "# TYPE http_request_duration_seconds histogram",
            ]
            for handler, (counts, total) in sorted(self.durations.items()):
                count = sum(n for (h, _, _), n in self.requests.items() if h == handler)
                for le, c in zip(BUCKETS, counts):  # noqa: B905 (hosts run Python 3.9)
                    lines.append(f'http_request_duration_seconds_bucket{{handler="{handler}",le="{le}"}} {c}')
                lines.append(f'http_request_duration_seconds_bucket{{handler="{handler}",le="+Inf"}} {count}')
                lines.append(f'http_request_duration_seconds_sum{{handler="{handler}"}} {total:.6f}')
                lines.append(f'http_request_duration_seconds_count{{handler="{handler}"}} {count}')
        lines.append(f'hardstack_fleet_app_info{{version="{VERSION}"}} 1')
        return "\n".join(lines) + "\n"


class State:
    def __init__(self, environment: str) -> None:
        self.ready = threading.Event()
        self.environment = environment
        self.metrics = Metrics()


def app_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class App(BaseHTTPRequestHandler):
        server_version = "hardstack-fleet-app/" + VERSION
        sys_version = ""

        def do_GET(self) -> None:
            started = time.monotonic()
            path = self.path.split("?", 1)[0]
            handler = path if path in HANDLERS else "other"
            if path == "/healthz":
                body: dict[str, str]
            if path == "/healthz":
                code, body = 200, {"status": "ok"}
            elif path == "/readyz":
                ready = state.ready.is_set()
                code, body = (200, {"status": "ready"}) if ready else (503, {"status": "draining"})
            elif path == "/":
                code = 200
                body = {
                    "service": "hardstack-fleet-app",
                    "version": VERSION,
                    "environment": state.environment,
                    "host": socket.gethostname(),
                }
            else:
                code, body = 404, {"error": "not found"}
            payload = (json.dumps(body) + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            state.metrics.observe(handler, "GET", code, time.monotonic() - started)

        def log_message(self, fmt: str, *args: Any) -> None:
            logging.info("%s %s", self.address_string(), fmt % args)

    return App


def metrics_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class MetricsHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            payload = state.metrics.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, fmt: str, *args: Any) -> None:
            pass

    return MetricsHandler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    # The load balancer reaches the host on its VPC address; the security group admits only it.
    parser.add_argument("--bind", default="0.0.0.0")  # noqa: S104
    parser.add_argument("--drain-seconds", type=float, default=35.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(message)s")
    state = State(os.environ.get("HARDSTACK_ENVIRONMENT", "unknown"))
    app = ThreadingHTTPServer((args.bind, args.port), app_handler(state))
    metrics = ThreadingHTTPServer((args.bind, args.metrics_port), metrics_handler(state))
    for server in (app, metrics):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()

    def drain(signum: int, frame: FrameType | None) -> None:
        # The load balancer stops sending once /readyz fails; requests in flight still finish.
        state.ready.clear()
        threading.Timer(args.drain_seconds, stop.set).start()

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    state.ready.set()
    logging.info("serving on %s:%d, metrics on %d", args.bind, args.port, args.metrics_port)
    # Short waits: the signal handler runs between them, whatever the platform's lock semantics.
    while not stop.wait(0.2):
        pass
    for server in (app, metrics):
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
