"""PayPal objects in the shapes of PayPal's REST specs (payments v1, billing v1).

Amounts are decimal strings ("10.00"), times RFC 3339 with a `Z`, ids in PayPal's formats
(PAYID-..., sale ids of 17 characters, P-... plans, I-... subscriptions, 13-character payer ids).
Only fields the specs define appear (live PayPal adds a few more, e.g. `cart` and
`payer_info.country_code`, which the payments spec does not document).
"""

from __future__ import annotations

import random
import re
import secrets
import string
from datetime import datetime, timedelta
from typing import Any

from provider_sandbox.core.seed import SEED_ANCHOR
from provider_sandbox.providers.paypal.errors import v1_invalid

_UPPER = string.ascii_uppercase + string.digits
_PAYER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # PayPal payer ids avoid 0, 1, I and O
DENIED_PAYER = "DENYPAYER2345"  # executing with this payer gives a denied sale (sandbox convention)
AMOUNT = re.compile(r"^\d{1,7}(\.\d{1,2})?$")
# The sandbox's one merchant: the payee of every payment (`payee_id` filters the payment list on it).
MERCHANT = {"merchant_id": "7E3KQ9ZP2WXYL", "email": "sb-merchant@business.example.com"}


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def code(length: int, alphabet: str = _UPPER, rng: random.Random | None = None) -> str:
    pick = rng.choice if rng else secrets.choice
    return "".join(pick(alphabet) for _ in range(length))


def payer_id(rng: random.Random | None = None) -> str:
    return code(13, _PAYER_ALPHABET, rng)


def link(href: str, rel: str, method: str = "GET") -> dict[str, str]:
    return {"href": href, "rel": rel, "method": method}


def money_total(value: Any, field: str) -> str:
    if not isinstance(value, str) or not AMOUNT.match(value):
        raise v1_invalid(field, "Amount must be a decimal string such as 10.00")
    return f"{float(value):.2f}"


def payment(base: str, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """A `created` v1 payment from a validated request body."""
    pid = f"PAYID-{code(24)}"
    token = f"EC-{code(17)}"
    return {
        "id": pid,
        "intent": "sale",
        "state": "created",
        "payer": {"payment_method": "paypal"},
        "transactions": data["transactions"],
        "redirect_urls": data["redirect_urls"],
        "create_time": stamp(now),
        "update_time": stamp(now),
        "links": [
            link(f"{base}/v1/payments/payment/{pid}", "self"),
            # Live PayPal says "REDIRECT" here, but its own spec only allows HTTP verbs: the spec wins.
            link(f"{base}/checkoutnow?token={token}", "approval_url", "GET"),
            link(f"{base}/v1/payments/payment/{pid}/execute", "execute", "POST"),
        ],
    }


def sale(base: str, now: datetime, payment_obj: dict[str, Any], amount: dict[str, Any], denied: bool) -> dict[str, Any]:
    sid = code(17)
    fee = f"{float(amount['total']) * 0.029 + 0.30:.2f}"
    return {
        "id": sid,
        "state": "denied" if denied else "completed",
        "amount": {"total": amount["total"], "currency": amount["currency"]},
        "payment_mode": "INSTANT_TRANSFER",
        "protection_eligibility": "ELIGIBLE",
        "protection_eligibility_type": "ITEM_NOT_RECEIVED_ELIGIBLE,UNAUTHORIZED_PAYMENT_ELIGIBLE",
        "transaction_fee": {"value": fee, "currency": amount["currency"]},
        "parent_payment": payment_obj["id"],
        "create_time": stamp(now),
        "update_time": stamp(now),
        "links": [
            link(f"{base}/v1/payments/sale/{sid}", "self"),
            link(f"{base}/v1/payments/sale/{sid}/refund", "refund", "POST"),
            link(f"{base}/v1/payments/payment/{payment_obj['id']}", "parent_payment"),
        ],
    }


def payer_info(pid: str) -> dict[str, Any]:
    return {
        "payment_method": "paypal",
        "status": "VERIFIED",
        "payer_info": {
            "email": f"buyer-{pid.lower()}@example.com",
            "first_name": "Sandbox",
            "last_name": "Buyer",
            "payer_id": pid,
        },
    }


def seed_payments(base: str, count: int) -> list[dict[str, Any]]:
    """`count` executed payments an hour apart before the seed anchor, oldest first."""
    made = []
    start = SEED_ANCHOR - timedelta(hours=count)
    for i in range(count):
        rng = random.Random(f"paypal:payment:{i}")  # noqa: S311 - reproducible seed data, not secrets
        moment = start + timedelta(hours=i)
        amount = {"total": f"{rng.randint(5, 900)}.{rng.choice(('00', '50', '99'))}", "currency": "USD"}
        data = {
            "transactions": [
                {
                    "amount": amount,
                    "payee": dict(MERCHANT),
                    "description": f"Seeded order {i + 1}",
                    "invoice_number": f"SEED-{i + 1:05d}",
                }
            ],
            "redirect_urls": {"return_url": "https://example.com/return", "cancel_url": "https://example.com/cancel"},
        }
        obj = payment(base, moment, data)
        obj["id"] = f"PAYID-{code(24, rng=rng)}"
        obj["links"] = [link(f"{base}/v1/payments/payment/{obj['id']}", "self")]
        obj.update(state="approved", payer=payer_info(payer_id(rng)))
        obj["transactions"][0]["related_resources"] = [{"sale": sale(base, moment, obj, amount, denied=False)}]
        made.append(obj)
    return made
