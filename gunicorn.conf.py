"""gunicorn settings for production (`gunicorn -c gunicorn.conf.py dataplatform.wsgi`).

Workers and threads come from the environment. The worker timeout is larger than the worst
DynamoDB budget (attempts x (connect + read) timeouts) so botocore gives up first and the
request ends with a clean 503 instead of a killed worker.

The worker is gthread with a lane of its own for /health/live and /health/ready
(dataplatform/web/gunicorn_worker.py): probes answer within seconds even when every request
thread waits on a hung DynamoDB. gunicorn believes no X-Forwarded-* header itself: the app's
TrustedProxyMiddleware decides from TRUSTED_PROXIES (addresses and networks)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", str(multiprocessing.cpu_count() * 2 + 1)))
# Threads mostly wait on DynamoDB's network round trips, not on the CPU: 8 per worker keep
# 16-32 slow reads in flight on a small machine without queueing everything behind them.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "dataplatform.web.gunicorn_worker.ProbeLaneWorker"
_attempts = int(os.environ.get("DYNAMODB_MAX_ATTEMPTS", "2") or 2)
_budget = _attempts * (float(os.environ.get("DYNAMODB_CONNECT_TIMEOUT", "1") or 1)
                       + float(os.environ.get("DYNAMODB_READ_TIMEOUT", "3") or 3))
# The largest documented trigger (100,000 files: one conditional PutItem per file, then the
# dispatch) is measured in README ("Trigger size and the worker timeout"); the default leaves
# it twice the room it needed, and stays above the DynamoDB budget.
LARGEST_TRIGGER_SECONDS = 120
timeout = int(os.environ.get("GUNICORN_TIMEOUT", str(max(int(_budget) + 15, LARGEST_TRIGGER_SECONDS))))
graceful_timeout = 30
keepalive = 5
accesslog = None  # the app logs one JSON line per request itself
errorlog = "-"
# Scheme and forwarding headers are the app's business (TrustedProxyMiddleware): none here.
forwarded_allow_ips = ""  # no peer: gunicorn applies no X-Forwarded-* itself
secure_scheme_headers: dict[str, str] = {}
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = 100
