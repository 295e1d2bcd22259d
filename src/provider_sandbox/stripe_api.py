"""Stripe simulator: the v1 API the service uses, behind `Authorization: Bearer sk_test_...`.

Sandbox path                 Real URL
/stripe/v1/...               https://api.stripe.com/v1/...

Set the SDK's API base to `{sandbox}/stripe` (`stripe.StripeClient(key, base_addresses={"api": ...})`
or `stripe.api_base`); the SDK appends `/v1/...`. Simulated as documented: form-encoded nested
params, secret keys per account (401 otherwise), `Idempotency-Key` on POST (replays answer with
`Idempotent-Replayed: true`; a reused key with other params is a 400 idempotency_error), list
objects with limit <= 100 / starting_after / ending_before / created[...] filters, `expand[]`,
and every error in Stripe's `{"error": {...}}` envelope. State and events are in stripe_state.py,
resource logic in stripe_resources.py, webhook signing in stripe_signing.py and control routes in
stripe_control.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.framework import json_response
from provider_sandbox.stripe_control import build_stripe_control
from provider_sandbox.stripe_form import StripeError, as_expand, decode
from provider_sandbox.stripe_resources import ROUTES
from provider_sandbox.stripe_state import StripeState
from provider_sandbox.stripe_store import Account, Call, expand, new_id

MAX_IDEMPOTENCY_KEY = 255


Handler = Callable[[StripeState, Call], Awaitable[tuple[int, dict[str, Any]]]]


def _mask(key: str) -> str:
    return f"{key[:8]}{'*' * max(len(key) - 12, 0)}{key[-4:]}" if len(key) > 12 else "****"


class StripeSimulator(StripeState):
    """The state of stripe_state.py, served: the v1 API (keys, idempotency, expand) and control routes."""

    def router(self) -> APIRouter:

        router = APIRouter()
        for path, method, handler in ROUTES:
            router.add_api_route(f"/v1{path}", self._endpoint(handler), methods=[method])
        return router

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            request_id = new_id("req")[:18]
            headers = {"Request-Id": request_id, "Stripe-Version": request.headers.get("stripe-version", "")}
            try:
                account = self._authenticate(request.headers.get("authorization"))
                raw = (await request.body()).decode("utf-8", errors="replace")
                if request.method != "POST":
                    raw = request.url.query
                params = decode(raw)
                key = request.headers.get("idempotency-key") if request.method == "POST" else None
                call = Call(account, params, dict(request.path_params), request_id, key, self.now())
                if key is None:
                    status, body = await self._run(handler, call)
                    return json_response(body, status, headers)
                return await self._idempotent(handler, call, request.url.path + "?" + raw, headers)
            except StripeError as error:
                error.headers.update(headers)
                return error.response()

        return endpoint

    async def _run(self, handler: Handler, call: Call) -> tuple[int, dict[str, Any]]:
        status, body = await handler(self, call)
        paths = as_expand(call.params)
        if paths and body.get("object") == "list":
            prefixed = [p.removeprefix("data.") for p in paths if p.startswith("data.")]
            body["data"] = [expand(call.account, item, prefixed) for item in body["data"]]
        elif paths:
            body = expand(call.account, body, paths)
        else:
            body = expand(call.account, body, [])  # a copy: later changes must not leak into it
        return status, body

    async def _idempotent(self, handler: Any, call: Call, fingerprint_source: str, headers: dict[str, str]) -> Response:
        key = call.idempotency_key or ""
        if len(key) > MAX_IDEMPOTENCY_KEY:
            raise StripeError(
                400, f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters.", param="Idempotency-Key"
            )
        fingerprint = hashlib.sha256(fingerprint_source.encode()).hexdigest()
        saved = call.account.idempotency.get(key)
        if saved is not None:
            if saved[0] != fingerprint:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
            return Response(
                saved[2],
                saved[1],
                {**headers, "Idempotent-Replayed": "true", "Idempotency-Key": key},
                "application/json",
            )
        try:
            status, body = await self._run(handler, call)
            response = json_response(body, status, {**headers, "Idempotency-Key": key})
        except StripeError as error:  # errors of a request that began executing are saved too
            error.headers.update({**headers, "Idempotency-Key": key})
            response = error.response()
        call.account.idempotency[key] = (fingerprint, response.status_code, bytes(response.body))
        return response

    def _authenticate(self, authorization: str | None) -> Account:
        if not authorization:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). "
                "See https://stripe.com/docs/api#authentication "
                "for details, or we can help at https://support.stripe.com/.",
            )
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "basic":  # curl -u sk_test_...: the key is the Basic user name
            try:
                credential = base64.b64decode(credential, validate=True).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                credential = ""
        elif scheme.lower() != "bearer":
            credential = ""
        account = self._keys.get(credential)
        if account is None:
            raise StripeError(
                401, f"Invalid API Key provided: {_mask(credential)}", code="api_key_invalid" if credential else None
            )
        return account

    def control_router(self) -> APIRouter:
        return build_stripe_control(self)
