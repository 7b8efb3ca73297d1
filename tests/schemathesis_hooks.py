"""Loaded by tests/schemathesis.sh (SCHEMATHESIS_HOOKS) before schemathesis starts its workers.

CPython 3.11 keeps one recursion counter per interpreter for building AST objects, so two
threads parsing at once can fail with `SystemError: AST constructor recursion depth mismatch`
(python/cpython#106905). Hypothesis parses source files to describe the lambdas of filtered
strategies, from each of schemathesis's worker threads; this makes those parses take turns.
"""

import ast
import threading

_parse = ast.parse
_lock = threading.Lock()


def _parse_one_at_a_time(*args, **kwargs):
    with _lock:
        return _parse(*args, **kwargs)


ast.parse = _parse_one_at_a_time
