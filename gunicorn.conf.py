"""gunicorn settings for eBiz in production: `gunicorn -c gunicorn.conf.py wsgi:app` (README, Production).

Each setting can be changed by an environment variable (GUNICORN_*), and, as always with gunicorn,
a command-line option overrides this file (`make bench` sets its own worker counts that way).

Why these values:
- gthread workers: a thread that streams a large download or reads a large upload does not stop
  its worker's heartbeat, so `timeout` (the silence after which the arbiter kills a worker) is
  not a cap on transfer time. Local-disk downloads go out with sendfile; S3 downloads are
  redirects to presigned URLs and never pass through a worker.
- `timeout` 120 s: a worker that cannot answer its heartbeat for two minutes is stuck, not busy.
- Behind nginx (or another buffering proxy, PROXY_FIX_COUNT=1): the proxy takes slow uploads
  whole before passing them on, so a slow client never holds a thread for the upload's length.
  Give the proxy `client_max_body_size` of at least UPLOAD_MAX_BYTES (2 GiB by default).
- `graceful_timeout` 60 s: on a deploy (SIGTERM or HUP) a request already running gets a minute
  to finish, enough for a download link or a payment callback.
- `max_requests` with jitter: workers are recycled now and then, never all at once.
- The access log is one key=value line per request, with the request id that eBiz puts in the
  `X-Request-Id` response header (a proxy's own id when it sends one), so a line of the access
  log finds its lines in the application log (LOG_FORMAT, ebiz/logs.py).
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9))
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 120)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 60)
keepalive = _int("GUNICORN_KEEPALIVE", 5)  # seconds an idle keep-alive connection from the proxy stays open
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 500)
# Only the local proxy may say which scheme the client used (Flask's ProxyFix reads the rest).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Application code loads in each worker after the fork: no database connection is shared across forks.
preload_app = False

# Logs to stderr (systemd/journald or the container runtime collect them). GUNICORN_ACCESS_LOG=""
# turns the access log off (the proxy keeps its own; `make bench` turns it off for both sides).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = ('ts="%(t)s" remote=%(h)s method=%(m)s path="%(U)s" status=%(s)s '
                     'bytes=%(B)s duration_ms=%(M)s request_id=%({x-request-id}o)s '
                     'referer="%(f)s" user_agent="%(a)s"')
