"""The sandbox ASGI app: every provider simulator plus the control API in one process.

Provider base URLs (swap these into the service; real hosts in brackets):

  Xero        authorize  /xero/login/identity/connect/authorize   [https://login.xero.com/identity/connect/authorize]
              token      /xero/identity/connect/token             [https://identity.xero.com/connect/token]
              revoke     /xero/identity/connect/revocation        [https://identity.xero.com/connect/revocation]
              API        /xero/api/...                            [https://api.xero.com/...]
  MYOB        authorize  /myob/secure/oauth2/account/authorize    [https://secure.myob.com/oauth2/account/authorize]
              token      /myob/secure/oauth2/v1/authorize         [https://secure.myob.com/oauth2/v1/authorize]
              API        /myob/api/accountright/...               [https://api.myob.com/accountright/...]
  QuickBooks  authorize  /quickbooks/appcenter/connect/oauth2     [https://appcenter.intuit.com/connect/oauth2]
              token      /quickbooks/oauth/oauth2/v1/tokens/bearer [https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer]
              revoke     /quickbooks/developer/v2/oauth2/tokens/revoke [https://developer.api.intuit.com/v2/oauth2/tokens/revoke]
              API        /quickbooks/api/v3/...                   [https://quickbooks.api.intuit.com/v3/...]
  Stripe      API        /stripe/v1/...                           [https://api.stripe.com/v1/...]
  PayPal      API        /paypal/v1/...                           [https://api-m.sandbox.paypal.com/v1/...]
  BillionMail API        /billionmail/api/...                     [https://<your-billionmail>/api/...]
  Mautic      OAuth, API /mautic/oauth/v2/..., /mautic/api/...    [https://<your-mautic>/...]
  Control     /_sandbox/...   (sandbox only; see README.md)

Serve with `uvicorn provider_sandbox.app:app_from_env --factory` or `python -m provider_sandbox`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from provider_sandbox.core.config import SandboxConfig, config_from_env
from provider_sandbox.core.control import build_control_router
from provider_sandbox.core.control_fields import ControlError
from provider_sandbox.core.exchanges import ExchangeLog, fault_marker
from provider_sandbox.core.framework import ProviderSimulator, Sandbox, json_response
from provider_sandbox.core.recorder import redact_query
from provider_sandbox.providers.billionmail.simulator import BillionMailSimulator
from provider_sandbox.providers.mautic.simulator import MauticSimulator
from provider_sandbox.providers.myob.simulator import MyobSimulator
from provider_sandbox.providers.paypal.simulator import PayPalSimulator
from provider_sandbox.providers.quickbooks.simulator import QuickBooksSimulator
from provider_sandbox.providers.stripe.simulator import StripeSimulator
from provider_sandbox.providers.xero.simulator import XeroSimulator

SIMULATORS: tuple[type[ProviderSimulator], ...] = (
    XeroSimulator,
    MyobSimulator,
    QuickBooksSimulator,
    StripeSimulator,
    PayPalSimulator,
    BillionMailSimulator,
    MauticSimulator,
)

logger = logging.getLogger("provider_sandbox")


# Over 60 lines: the app's wiring (middleware, routers, control API) in one place, as FastAPI apps read.
def create_app(
    config: SandboxConfig,
    simulators: Sequence[type[ProviderSimulator]] = SIMULATORS,
    exchange_log: Path | None = None,
) -> FastAPI:
    """`exchange_log`: a file to append the specified providers' exchanges to (core/exchanges.py)."""
    sandbox = Sandbox(config, simulators)
    app = FastAPI(title="Provider sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = sandbox
    for provider in sandbox.providers.values():
        app.include_router(provider.router(), prefix=provider.prefix)
    app.include_router(build_control_router(sandbox), prefix="/_sandbox")
    for provider in sandbox.providers.values():
        extra = provider.control_router()
        if extra is not None:
            app.include_router(extra, prefix=f"/_sandbox/{provider.name}")

    @app.exception_handler(ControlError)
    async def control_error(request: Request, error: ControlError) -> Response:
        return error.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        """Unknown paths and methods answer in the shape of the provider whose prefix they use."""
        provider = sandbox.provider_for_path(request.url.path)
        message = f"{request.method} {request.url.path}: {error.detail}"
        if provider is not None:
            return provider.error_response(error.status_code, message)
        return json_response(
            {"error": "not_found" if error.status_code == 404 else "http_error", "detail": message},
            error.status_code,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        logger.exception("sandbox bug while serving %s %s", request.method, request.url.path)
        provider = sandbox.provider_for_path(request.url.path)
        if provider is not None:
            return provider.error_response(500, "Unexpected sandbox error")
        return json_response({"error": "internal", "detail": type(error).__name__}, 500)

    @app.middleware("http")
    async def faults_and_recording(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        provider = sandbox.provider_for_path(request.url.path)
        if provider is None:
            return await call_next(request)
        rule = sandbox.faults.take(provider.name, request.method, request.url.path, provider.page_number(request))
        if rule is not None and rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule is not None and rule.kind != "delay":
            fault_marker(request.scope, rule.id)
            response = provider.fault_response(rule)
        else:
            response = await call_next(request)
        query = list(request.query_params.multi_items())
        sandbox.recorder.record(
            sandbox.clock.now(),
            provider.name,
            request.method,
            request.url.path,
            query,
            {k.lower(): v for k, v in request.headers.items()},
            response.status_code,
            rule.id if rule else None,
        )
        # Only the path and redacted query reach the log: codes and tokens never do.
        logger.info(
            "%s %s %s -> %d%s",
            provider.name,
            request.method,
            request.url.path,
            response.status_code,
            f" query={redact_query(query)}" if query else "",
        )
        return response

    if exchange_log is not None:
        app.add_middleware(ExchangeLog, path=exchange_log)  # outermost: it logs what the client received
    return app


def app_from_env() -> FastAPI:
    """Zero-argument factory for `uvicorn provider_sandbox.app:app_from_env --factory`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    exchange_log = os.environ.get("SANDBOX_EXCHANGE_LOG")
    return create_app(config_from_env(), exchange_log=Path(exchange_log) if exchange_log else None)
