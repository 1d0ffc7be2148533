#!/usr/bin/env python3
"""Validates recorded HTTP exchanges against docs/api/openapi.yaml, BOTH
sides: each request (the path and method exist in the document; path, query,
header parameters and the body match their schemas; security present) and
each answer (the status is documented for the operation; content type and
body match its schema). Uses openapi-core (PyPI), made for exactly this.

Usage: validate_traffic.py <openapi.yaml> <traffic.json>
  traffic.json: [{"method", "path", "query", "content_type", "auth_scheme",
                  "body", "status", "response_content_type",
                  "response_headers"?, "response_body"}, ...]
  (what the sandbox's testkit traffic recorder saw; bodies as text).
Prints one line per failure and `openapi traffic: N requests, N answers
checked, N failed`; exits 1 on any failure, 2 on bad usage or no traffic.
"""

import json
import re
import sys
from urllib.parse import parse_qsl

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import Headers, ImmutableMultiDict

# The document's own `servers` entry; only the path and method matter here.
HOST = "http://127.0.0.1:8080"


SECRET_KEYS = r"(access_token|refresh_token|id_token|password|password_confirm|token)"
SECRETS = [
    # JSON text: "password":"…"
    re.compile(r'("' + SECRET_KEYS + r'"\s*:\s*")[^"]*'),
    # Python reprs in validator messages: 'password': '…'
    re.compile(r"('" + SECRET_KEYS + r"'\s*:\s*')[^']*"),
]


def redact(text):
    """Token and password values never reach the test log (even sandbox ones)."""
    for pattern in SECRETS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


def mime(ct):
    return (ct or "").split(";")[0].strip()


def describe(e):
    # openapi-core wraps the real reasons (schema errors) in __cause__.
    parts = [f"{type(e).__name__}: {e}"]
    cause = e.__cause__ or e.__context__
    seen = 0
    while cause is not None and seen < 3:
        inner = getattr(cause, "schema_errors", None)
        if inner:
            parts += [f"  - {getattr(s, 'message', s)} at {list(getattr(s, 'path', []))}" for s in inner]
        else:
            parts.append(f"  caused by {type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return "\n".join(parts)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    # RFC 9457 problem documents are JSON too (openapi-core knows only
    # application/json and a vnd type by default).
    config = Config(
        extra_media_type_deserializers={"application/problem+json": json.loads}
    )
    api = OpenAPI.from_file_path(sys.argv[1], config=config)
    with open(sys.argv[2], encoding="utf-8") as f:
        traffic = json.load(f)
    if not traffic:
        print("FAIL: no traffic was recorded", file=sys.stderr)
        return 2
    failures = []
    requests = answers = 0
    for i, x in enumerate(traffic):
        what = f"#{i} {x['method']} {x['path']}" + (f"?{x['query']}" if x.get("query") else "")
        headers = {}
        if x.get("content_type"):
            headers["Content-Type"] = x["content_type"]
        if x.get("auth_scheme"):
            # The recorder keeps the scheme, never the token.
            headers["Authorization"] = f"{x['auth_scheme']} recorded-token"
        req = MockRequest(
            HOST,
            x["method"],
            x["path"],
            headers=headers,
            data=(x.get("body") or "").encode("utf-8"),
            content_type=mime(x.get("content_type")) or "application/json",
        )
        # Keep repeated query parameters (MockRequest takes a dict).
        req.parameters.query = ImmutableMultiDict(
            parse_qsl(x.get("query") or "", keep_blank_values=True)
        )
        requests += 1
        try:
            api.validate_request(req)
        except Exception as e:  # noqa: BLE001 - report every kind of mismatch
            failures.append(f"REQUEST {what}\n{describe(e)}\n  body: {(x.get('body') or '')[:300]}")
        resp = MockResponse(
            (x.get("response_body") or "").encode("utf-8"),
            status_code=x["status"],
            content_type=mime(x.get("response_content_type")),
        )
        if x.get("response_headers"):
            resp.headers = Headers(x["response_headers"])
        answers += 1
        try:
            api.validate_response(req, resp)
        except Exception as e:  # noqa: BLE001
            failures.append(
                f"ANSWER {what} → {x['status']} {x.get('response_content_type')}\n{describe(e)}\n"
                f"  body: {(x.get('response_body') or '')[:300]}"
            )
    for f in failures:
        print(redact(f))
    print(f"openapi traffic: {requests} requests, {answers} answers checked, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
