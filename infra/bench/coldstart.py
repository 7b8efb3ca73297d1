"""Cold starts, measured locally: from process start to the function's first request to the
Lambda runtime API (GET .../runtime/invocation/next), which a function makes only once its
configuration is read and its SDK clients are built, as in production.

Each binary runs with the environment template.yaml gives its function (values the template
computes are replaced by well-formed stand-ins: queue URLs, ARNs, the table name) and the
variables Lambda sets, against a stand-in runtime API on 127.0.0.1 that records the first
request and answers nothing; the process is then killed. Every round starts each binary once,
in turn, so a busy moment of the machine touches all of them alike.

Usage: python coldstart.py [--env NAME=VALUE]... LAMBDA_DIR ROUNDS HELLO FUNCTION...
(binaries at LAMBDA_DIR/NAME/bootstrap; each --env is set for every start, hello world's too)
Prints one JSON object: per binary the median and 90th percentile in ms, and the ratio of the
medians to the hello-world binary's.
"""

import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACCOUNT = "123456789012"
REGION = "us-east-1"


class Loader(yaml.SafeLoader):
    """Reads `!Ref Name` as ("Ref", "Name") and CloudFormation's other short-form tags as None."""


Loader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: ("Ref", node.value) if suffix == "Ref" and isinstance(node, yaml.ScalarNode) else None,
)


def stand_in(name):
    """A well-formed value for a variable the template computes at deploy time."""
    if name.endswith("_QUEUE_URL") or name.endswith("_DLQ_URL"):
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/herald-{name.lower()}"
    if name.endswith("_URL"):
        return f"https://abcdef1234.execute-api.{REGION}.amazonaws.com"
    if name.endswith("ROLE_ARN"):
        return f"arn:aws:iam::{ACCOUNT}:role/herald-scheduler"
    if name.endswith("_ARN"):
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:herald-{name.lower()}"
    if name == "HERALD_KMS_KEY_ID":
        return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b9a7c6e-1d2f-4a3b-8c4d-5e6f7a8b9c0d"
    if name == "HERALD_TABLE":
        return "herald-Table"
    if name == "HERALD_SES_CONFIGURATION_SET":
        return "herald-herald"
    return "1"


def environments():
    """Each binary's environment from template.yaml: Globals first, then the function's own."""
    with open(os.path.join(ROOT, "template.yaml")) as f:
        template = yaml.load(f, Loader=Loader)
    parameters = template.get("Parameters") or {}
    common = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
    out = {}
    for logical, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        own = ((resource["Properties"].get("Environment") or {}).get("Variables")) or {}
        env = {}
        for name, value in {**common, **own}.items():
            if isinstance(value, tuple) and value[1] in parameters:
                value = parameters[value[1]].get("Default")  # a stack parameter: its default
            elif isinstance(value, tuple):
                value = None  # a resource: resolved at deploy time
            env[name] = str(value) if value is not None else stand_in(name)
        env["AWS_LAMBDA_FUNCTION_NAME"] = f"herald-{logical}"
        env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(resource["Properties"].get("MemorySize", 256))
        out[binary] = env
    return out


class Runtime(http.server.ThreadingHTTPServer):
    """The stand-in runtime API: notes when the next-invocation request arrives."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.arrived = threading.Event()
        self.at = None


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next") and not self.server.arrived.is_set():
            self.server.at = time.perf_counter()
            self.server.arrived.set()
        # No answer: the process is killed next.
        self.close_connection = True

    def log_message(self, *args):
        pass


def one_start(path, env, runtime):
    runtime.arrived.clear()
    runtime.at = None
    base = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_NAME": "hello",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/herald",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/22/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_SESSION_TOKEN": "token",
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": os.path.dirname(path),
    }
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen([path], env={**base, **env}, stdout=subprocess.DEVNULL, stderr=err)
        arrived = runtime.arrived.wait(10)
        exited = process.poll()
        process.kill()
        process.wait()
        if not arrived:
            err.seek(0)
            detail = err.read().decode(errors="replace")[-2000:]
            sys.exit(f"{path} made no runtime API request within 10 s (exit {exited}): {detail}")
        return (runtime.at - start) * 1000


def main():
    args, extra = sys.argv[1:], {}
    while args and args[0] == "--env":
        name, _, value = args[1].partition("=")
        extra[name] = value
        args = args[2:]
    lambda_dir, rounds, names = args[0], int(args[1]), args[2:]
    hello = names[0]
    envs = {n: {**env, **extra} for n, env in environments().items()}
    envs.update({n: dict(extra) for n in names if n not in envs})
    runtime = Runtime()
    threading.Thread(target=runtime.serve_forever, daemon=True).start()
    paths = {n: os.path.join(lambda_dir, n, "bootstrap") for n in names}
    times = {n: [] for n in names}
    for n in names:  # one unmeasured start each: the page cache holds every binary
        one_start(paths[n], envs.get(n, {}), runtime)
    for _ in range(rounds):
        for n in names:
            times[n].append(one_start(paths[n], envs.get(n, {}), runtime))
    runtime.shutdown()
    base = statistics.median(times[hello])
    out = {}
    for n in names:
        t = sorted(times[n])
        median = statistics.median(t)
        out[n] = {
            "median_ms": round(median, 2),
            "p90_ms": round(t[int(0.9 * (len(t) - 1))], 2),
            "bytes": os.path.getsize(paths[n]),
            "ratio": round(median / base, 2),
        }
    print(json.dumps({"rounds": rounds, "hello": hello, "binaries": out}))


if __name__ == "__main__":
    main()
