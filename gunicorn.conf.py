"""gunicorn settings for production (`gunicorn -c gunicorn.conf.py dataplatform.wsgi`).

Workers and threads come from the environment. The worker timeout is larger than the worst
DynamoDB budget (attempts x (connect + read) timeouts) so botocore gives up first and the
request ends with a clean 503 instead of a killed worker."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", str(multiprocessing.cpu_count() * 2 + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
_attempts = int(os.environ.get("DYNAMODB_MAX_ATTEMPTS", "3") or 3)
_budget = _attempts * (float(os.environ.get("DYNAMODB_CONNECT_TIMEOUT", "2") or 2)
                       + float(os.environ.get("DYNAMODB_READ_TIMEOUT", "5") or 5))
# The largest documented trigger (100,000 files: one conditional PutItem per file, then the
# dispatch) is measured in README ("Trigger size and the worker timeout"); the default leaves
# it twice the room it needed, and stays above the DynamoDB budget.
LARGEST_TRIGGER_SECONDS = 120
timeout = int(os.environ.get("GUNICORN_TIMEOUT", str(max(int(_budget) + 15, LARGEST_TRIGGER_SECONDS))))
graceful_timeout = 30
keepalive = 5
accesslog = None  # the app logs one JSON line per request itself
errorlog = "-"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = 100
