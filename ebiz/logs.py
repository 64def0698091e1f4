"""Log lines a machine can read: one JSON object (or key=value line) per record, request id on each.

`configure(app)` (called by create_app when LOG_FORMAT is "json" or "keyvalue"; production's
default is "json") gives the `ebiz` logger, which every module's and the app's logger sits
under, one handler to stderr with this format, and stops it from also going to the root
logger (so gunicorn's or cron's handlers do not print it a second time). Every record carries
`request_id`: the request's id (an `X-Request-Id` from the proxy, or one made up; echoed in the
response header, which gunicorn's access log prints, see gunicorn.conf.py), or "-" outside a
request (CLI, worker). "text" leaves Flask's own logging alone (development, tests).
"""

import json
import logging
import sys
import time

from flask import Flask, g, has_app_context
from flask.logging import default_handler

HANDLER_NAME = "ebiz-structured"


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record passing through the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = (g.get("request_id") if has_app_context() else None) or "-"
        return True


def _fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict:
    fields = {"ts": formatter.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
              "level": record.levelname.lower(), "logger": record.name,
              "request_id": getattr(record, "request_id", "-"), "msg": record.getMessage()}
    if record.exc_info:
        fields["exc"] = formatter.formatException(record.exc_info)
    return fields


class JsonFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)  # UTC, as every time in eBiz

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record, self), ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)

    def format(self, record: logging.LogRecord) -> str:
        # json.dumps quotes and escapes each value: a newline or a quote in a message stays on one line.
        return " ".join(f"{k}={json.dumps(v, ensure_ascii=False) if k in ('msg', 'exc', 'logger') else v}"
                        for k, v in _fields(record, self).items())


FORMATTERS = {"json": JsonFormatter, "keyvalue": KeyValueFormatter}


def configure(app: Flask, stream=None) -> None:
    """Install (or replace) the structured handler on the `ebiz` logger, per LOG_FORMAT."""
    fmt = app.config.get("LOG_FORMAT", "text")
    logger = logging.getLogger("ebiz")
    for old in [h for h in logger.handlers if h.get_name() == HANDLER_NAME]:
        logger.removeHandler(old)
    if fmt == "text":
        logger.propagate = True
        return
    if fmt not in FORMATTERS:
        raise RuntimeError(f"LOG_FORMAT must be text, json or keyvalue, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(FORMATTERS[fmt]())
    handler.addFilter(RequestIdFilter())
    logger.removeHandler(default_handler)  # Flask's plain one, if app.logger was built already
    logger.addHandler(handler)
    logger.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    logger.propagate = False
