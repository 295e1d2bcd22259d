"""Defects of the service's edge (issue 13, #1 #8 #9): rate-limit buckets, forged tokens, the 500, the log."""

from tests.harness.defects import Defect

EDGE_DEFECTS: tuple[Defect, ...] = (
    Defect(
        # The seed's own mistake: every made-up token buys a bucket of its own, so a flood is never refused.
        "rate-limit-keyed-on-the-raw-authorization-header",
        "api/middleware.py",
        (
            (
                "        token = bearer_token(scope)\n        owner = None if token is None",
                '        raw = Headers(scope=scope).get("authorization")\n'
                "        if raw:\n"
                '            return self.limiter.hit("token", raw, webhook=webhook)\n'
                "        token = bearer_token(scope)\n        owner = None if token is None",
            ),
        ),
        "SEC-04",
    ),
    Defect(
        "forged-tokens-looked-up-every-time",
        "security/api_tokens.py",
        (("return self._forged.get(hash_token(token)) is not None", "return False"),),
        "SEC-04",
    ),
    Defect(
        "x-forwarded-for-trusted-from-anyone",
        "app.py",
        (("trusted_hosts=settings.trusted_proxies", 'trusted_hosts="*"'),),
        "SEC-04",
    ),
    Defect(
        "rate-limit-default-absurdly-high",
        "settings.py",
        (('rate_limit: str = "600/minute"', 'rate_limit: str = "60000/minute"'),),
        "SEC-04",
    ),
    Defect(
        # Starlette's own 500 is sent from outside every middleware: no security headers, no request id.
        "500-without-security-headers",
        "api/middleware.py",
        (("            if status is not None:\n                raise", "            if True:\n                raise"),),
        "CQ-05",
    ),
    Defect(
        "uvicorn-access-line-back-on",
        "security/redaction.py",
        (("    access.propagate = False\n", "    access.propagate = True\n"),),
        "SECT-01",
    ),
    Defect(
        "access-line-carries-the-query-string",
        "api/middleware.py",
        (
            (
                '                scope["path"],\n                status or 500,\n',
                '                scope["path"] + "?" + scope["query_string"].decode(),\n'
                "                status or 500,\n",
            ),
        ),
        "SECT-01",
    ),
)
