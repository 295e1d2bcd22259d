"""Stripe simulator: the v1 API the service uses, behind `Authorization: Bearer sk_test_...`.

Sandbox path                 Real URL
/stripe/v1/...               https://api.stripe.com/v1/...

Set the SDK's API base to `{sandbox}/stripe` (`stripe.StripeClient(key, base_addresses={"api": ...})`
or `stripe.api_base`); the SDK appends `/v1/...`. Simulated as documented: form-encoded nested
params, secret keys per account (401 otherwise), `Idempotency-Key` on POST (replays answer with
`Idempotent-Replayed: true`; a reused key with other params is a 400 idempotency_error), list
objects with limit <= 100 / starting_after / ending_before / created[...] filters, `expand[]`,
and every error in Stripe's `{"error": {...}}` envelope. Resource logic is in stripe_resources.py,
webhooks and control routes in stripe_control.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.faults import FaultRule
from provider_sandbox.framework import ProviderSimulator, json_response
from provider_sandbox.stripe_control import StripeSigner, build_stripe_control
from provider_sandbox.stripe_form import StripeError, as_expand, decode
from provider_sandbox.stripe_objects import seed_account
from provider_sandbox.stripe_resources import ROUTES
from provider_sandbox.stripe_store import Account, Call, expand, new_id
from provider_sandbox.tenants import TenantSpec, stable_uuid
from provider_sandbox.webhooks import WebhookDispatcher

MAX_IDEMPOTENCY_KEY = 255


Handler = Callable[["StripeSimulator", Call], Awaitable[tuple[int, dict[str, Any]]]]


def _mask(key: str) -> str:
    return f"{key[:8]}{'*' * max(len(key) - 12, 0)}{key[-4:]}" if len(key) > 12 else "****"


class StripeSimulator(ProviderSimulator):
    name = "stripe"
    tenant_spec = TenantSpec(id_factory=stable_uuid, currency="USD", country="US")  # unused: accounts instead
    tenant_names: ClassVar[tuple[str, str]] = ("NextCRM Sandbox (US)", "NextCRM Sandbox Secondary")

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.accounts: dict[str, Account] = {}
        self._keys: dict[str, Account] = {}
        self._dispatcher: WebhookDispatcher | None = None

    # --- state -----------------------------------------------------------------------------------

    @property
    def dispatcher(self) -> WebhookDispatcher:
        assert self._dispatcher is not None
        return self._dispatcher

    def reset(self) -> None:

        if self._dispatcher is not None:
            self._dispatcher.cancel_all()
        self._dispatcher = WebhookDispatcher(
            "stripe", self.sandbox.clock, StripeSigner(), "we_", ca_bundle=self.sandbox.config.webhook_ca_bundle
        )
        self.accounts, self._keys = {}, {}
        config = self.sandbox.config.payments
        self.create_account("default", config.stripe_secret_key, config.stripe_charges, config.stripe_customers)
        self.create_account("secondary", config.stripe_secondary_secret_key, 25, 5)

    def create_account(self, label: str, secret_key: str | None, charges: int, customers: int) -> Account:

        key = secret_key or f"sk_test_{secrets.token_urlsafe(32)}"
        account = Account(
            id=new_id("acct", f"stripe/{label}")[:21],
            secret_keys=(key,),
            api_version=self.sandbox.config.payments.stripe_api_version,
        )
        seed_account(account, customers, charges)
        self.accounts[account.id] = account
        self._keys[key] = account
        return account

    def key_in_use(self, key: str) -> bool:
        return key in self._keys

    def default_account(self) -> Account:
        return next(iter(self.accounts.values()))

    def find_object(self, object_id: str) -> tuple[Account, dict[str, Any]] | None:
        for account in self.accounts.values():
            if object_id in account.objects:
                return account, account.objects[object_id]
        return None

    def now(self) -> int:
        return int(self.sandbox.clock.now().timestamp())

    def emit(
        self,
        call: Call | None,
        account: Account,
        event_type: str,
        obj: dict[str, Any],
        previous: dict[str, Any] | None = None,
        deliver: bool = True,
    ) -> dict[str, Any]:
        """Record an event about `obj` as it is now and deliver it to the account's endpoints."""
        data: dict[str, Any] = {"object": expand(account, obj, [])}
        if previous is not None:
            data["previous_attributes"] = previous
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": account.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(self.dispatcher.matching(account.id, event_type)),
            "request": {
                "id": call.request_id if call else None,
                "idempotency_key": call.idempotency_key if call else None,
            },
            "type": event_type,
        }
        account.add(event)
        if deliver:
            self.dispatcher.dispatch(event, account.id)
        return event

    # --- wire format -----------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        if status in (404, 405):
            return StripeError(
                404,
                f"Unrecognized request URL ({message}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
            ).response()
        if status >= 500:
            return StripeError(status, message, type="api_error").response()
        return StripeError(status, message).response()

    def rate_limit_response(self, rule: FaultRule) -> Response:
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after else None
        message = rule.message or (
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
        )
        return StripeError(429, message, code="rate_limit", headers=headers).response()

    def page_number(self, request: Request) -> int | None:
        return None  # Stripe pages by cursor, not number

    # --- routing ---------------------------------------------------------------------------------

    def router(self) -> APIRouter:

        router = APIRouter()
        for path, method, handler in ROUTES:
            router.add_api_route(f"/v1{path}", self._endpoint(handler), methods=[method])
        return router

    def _endpoint(
        self, handler: Callable[[StripeSimulator, Call], Awaitable[tuple[int, dict[str, Any]]]]
    ) -> Callable[[Request], Awaitable[Response]]:
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

    async def _run(
        self, handler: Callable[[StripeSimulator, Call], Awaitable[tuple[int, dict[str, Any]]]], call: Call
    ) -> tuple[int, dict[str, Any]]:
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
