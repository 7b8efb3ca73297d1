"""moto in server mode, with DynamoDB requests applied one at a time.

moto's threaded server does not apply a conditional write's check and its write atomically:
two concurrent UpdateItems with the same condition can both succeed, which real DynamoDB
never allows. Herald's exactly-once claims depend on that guarantee, so this launcher wraps
moto's WSGI application and serialises every DynamoDB request (moto holds the GIL anyway, so
the cost is small). Other services stay concurrent.

moto keeps no headers of SES v2 emails, so the wrapper also remembers each SendEmail's
recipients, subject and headers (the last 20,000) and answers `GET /_herald/sesv2-outbox?to=`
with those sent to an address: how tests read a sent mail's `List-Unsubscribe`.

Usage: python moto_server.py [-H HOST] [-p PORT]
"""

import argparse
import collections
import io
import json
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

SES_SEND = "/v2/email/outbound-emails"
OUTBOX_PATH = "/_herald/sesv2-outbox"


class SerialDynamoDb:
    """A WSGI middleware that runs one DynamoDB request at a time (and keeps the SES v2
    outbox's headers)."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.outbox = collections.deque(maxlen=20000)

    def remember_email(self, environ):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return
        simple = (request.get("Content") or {}).get("Simple") or {}
        self.outbox.append(
            {
                "to": (request.get("Destination") or {}).get("ToAddresses") or [],
                "subject": (simple.get("Subject") or {}).get("Data"),
                "headers": {
                    h.get("Name"): h.get("Value") for h in simple.get("Headers") or []
                },
                "tags": {t.get("Name"): t.get("Value") for t in request.get("EmailTags") or []},
            }
        )

    def answer_outbox(self, environ, start_response):
        query = dict(
            pair.split("=", 1) for pair in environ.get("QUERY_STRING", "").split("&") if "=" in pair
        )
        from urllib.parse import unquote

        to = unquote(query.get("to", ""))
        found = [m for m in list(self.outbox) if to in m["to"]]
        body = json.dumps(found).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == OUTBOX_PATH:
            return self.answer_outbox(environ, start_response)
        if path == SES_SEND and environ.get("REQUEST_METHOD") == "POST":
            self.remember_email(environ)
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self.lock:
                # Materialise the body inside the lock: the request's effects are complete
                # before the next DynamoDB request starts.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        SerialDynamoDb(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
