"""moto in server mode, with DynamoDB requests applied one at a time.

moto's threaded server does not apply a conditional write's check and its write atomically:
two concurrent UpdateItems with the same condition can both succeed, which real DynamoDB
never allows. Herald's exactly-once claims depend on that guarantee, so this launcher wraps
moto's WSGI application and serialises every DynamoDB request (moto holds the GIL anyway, so
the cost is small). Other services stay concurrent.

moto keeps no headers of SES v2 emails, so the wrapper also remembers each SendEmail's
recipients, reply-to addresses, subject, headers and body (the last 20,000) and answers `GET /_herald/sesv2-outbox?to=`
with those sent to an address (how tests read a sent mail's `List-Unsubscribe`), or without
`to` with the newest (`limit`, default 200; the console's local outbox page).

moto is also more lenient than AWS (duplicate keys in one BatchWriteItem, an empty SQS body, an
SNS message over 256 KiB in bytes, ...): the wrapper refuses those requests with AWS's own
error, by the rules in strict_aws.py, before moto sees them.

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
import time
from urllib.parse import parse_qsl

import strict_aws

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

SES_SEND = "/v2/email/outbound-emails"
OUTBOX_PATH = "/_herald/sesv2-outbox"


def read_body(environ):
    """The request's body, left in place for moto to read again."""
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def credential_scope(environ):
    """(access key, region, service) from a SigV4 Authorization header, or Nones."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    _, found, rest = auth.partition("Credential=")
    parts = rest.split(",", 1)[0].split("/") if found else []
    return tuple(parts[i] if len(parts) > 4 else None for i in (0, 2, 3))


class Lookups:
    """What strict_aws's rules need from moto for one request, asked through moto's own API
    with the request's headers (so the same account and region): a table's key attribute names
    and a queue's MaximumMessageSize. Answers are kept in `cache`, which the caller empties
    when a table or queue is created, deleted or (queues) has its attributes set."""

    def __init__(self, app, environ, cache):
        self.app = app
        self.environ = environ
        self.cache = cache

    def cached(self, kind, name, find):
        key = (kind, *credential_scope(self.environ)[:2], name)
        found = self.cache.get(key)
        if found is None:
            found = find()
            if found is not None:
                self.cache[key] = found
        return found

    def call(self, target, payload):
        body = json.dumps(payload).encode()
        environ = {
            k: v
            for k, v in self.environ.items()
            if not k.startswith("wsgi.input") and k != "werkzeug.request"
        }
        environ.update(
            {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/",
                "QUERY_STRING": "",
                "HTTP_X_AMZ_TARGET": target,
                "CONTENT_LENGTH": str(len(body)),
                "wsgi.input": io.BytesIO(body),
            }
        )
        status = []
        chunks = self.app(environ, lambda line, headers, exc_info=None: status.append(line))
        try:
            answer = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        if not status or not status[0].startswith("200"):
            return None
        return json.loads(answer)

    def key_names(self, table):
        def find():
            answer = self.call("DynamoDB_20120810.DescribeTable", {"TableName": table})
            if answer is None:
                return None
            schema = sorted(answer["Table"]["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
            return [k["AttributeName"] for k in schema]

        return self.cached("table", table, find)

    def queue_max_size(self, queue_url):
        def find():
            answer = self.call(
                "AmazonSQS.GetQueueAttributes",
                {"QueueUrl": queue_url, "AttributeNames": ["MaximumMessageSize"]},
            )
            try:
                return int(answer["Attributes"]["MaximumMessageSize"])
            except (TypeError, KeyError, ValueError):
                return None

        return self.cached("queue", queue_url, find) or strict_aws.MAX_SQS_MESSAGE_BYTES


class SerialDynamoDb:
    """A WSGI middleware that runs one DynamoDB request at a time, refuses what AWS refuses
    and moto accepts (strict_aws), and keeps the SES v2 outbox's headers."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.outbox = collections.deque(maxlen=20000)
        self.lookups = {}  # Lookups' cache

    def remember_email(self, environ):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return
        simple = (request.get("Content") or {}).get("Simple") or {}
        body = simple.get("Body") or {}
        self.outbox.append(
            {
                "at": time.time(),
                "from": request.get("FromEmailAddress"),
                "to": (request.get("Destination") or {}).get("ToAddresses") or [],
                "reply_to": request.get("ReplyToAddresses") or [],
                "subject": (simple.get("Subject") or {}).get("Data"),
                "html": (body.get("Html") or {}).get("Data"),
                "text": (body.get("Text") or {}).get("Data"),
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
        if to:
            found = [m for m in list(self.outbox) if to in m["to"]]
        else:
            # Everything, newest first (the console's local outbox page).
            found = list(reversed(self.outbox))[: int(query.get("limit", "200"))]
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
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_"):
            with self.lock:
                refusal = self.refusal_dynamodb(environ, target.split(".", 1)[-1])
                if refusal:
                    return self.refuse(refusal, start_response)
                # Materialise the body inside the lock: the request's effects are complete
                # before the next DynamoDB request starts.
                return list(self.app(environ, start_response))
        if target.startswith("AmazonSQS."):
            refusal = self.refusal_sqs(environ, target.split(".", 1)[-1])
            if refusal:
                return self.refuse(refusal, start_response)
        elif credential_scope(environ)[2] == "sns" and environ.get("REQUEST_METHOD") == "POST":
            refusal = self.refusal_sns(environ)
            if refusal:
                return self.refuse(refusal, start_response)
        return self.app(environ, start_response)

    # A body that does not parse is moto's to answer.

    def refusal_dynamodb(self, environ, operation):
        if operation in ("CreateTable", "DeleteTable"):
            self.lookups.clear()  # a table of this name may come back with another key schema
            return None
        if not strict_aws.checks("dynamodb", operation):
            return None
        try:
            request = json.loads(read_body(environ))
        except ValueError:
            return None
        lookups = Lookups(self.app, environ, self.lookups)
        return strict_aws.check("dynamodb", operation, request, lookups)

    def refusal_sqs(self, environ, operation):
        if operation in ("CreateQueue", "DeleteQueue", "SetQueueAttributes"):
            self.lookups.clear()  # MaximumMessageSize may change
            return None
        if not strict_aws.checks("sqs", operation):
            return None
        try:
            request = json.loads(read_body(environ))
        except ValueError:
            return None
        lookups = Lookups(self.app, environ, self.lookups)
        return strict_aws.check("sqs", operation, request, lookups)

    def refusal_sns(self, environ):
        try:
            params = dict(parse_qsl(read_body(environ).decode(), keep_blank_values=True))
        except ValueError:
            return None
        operation = params.get("Action", "")
        if not strict_aws.checks("sns", operation):
            return None
        return strict_aws.check("sns", operation, params, None)

    @staticmethod
    def refuse(refusal, start_response):
        status, headers, body = refusal.response()
        start_response(status, headers)
        return [body]


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
