"""Sign-in throttling (decision 0014): refused sign-ins counted per account (the email address
typed) and per client address with django-ratelimit's counters in the cache; at either limit,
sign-in is refused until the counting window ends, with the same message whether or not the
account exists. The second factor counts its wrong codes against the same account limit."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

_ACCOUNT, _ADDRESS = "registra.sign-in.account", "registra.sign-in.address"


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


@dataclass(frozen=True)
class Throttle:
    """Whether sign-in is refused for now, and for how many more seconds."""

    refused: bool
    seconds_left: int = 0

    @property
    def message(self) -> str:
        minutes = max(1, -(-self.seconds_left // 60))
        return (
            "Too many refused sign-ins from this account or address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )


def _counts(request: HttpRequest, account: str, *, increment: bool) -> list[dict]:
    account = account.strip().lower()
    return [
        get_usage(
            request,
            group=group,
            key=key,
            rate=rate,
            method=ALL,
            increment=increment,
        )
        or {}
        for group, key, rate in (
            (_ACCOUNT, lambda _g, _r: account, settings.REGISTRA_SIGN_IN_FAILURES_PER_ACCOUNT),
            (
                _ADDRESS,
                lambda _g, r: client_address(r),
                settings.REGISTRA_SIGN_IN_FAILURES_PER_ADDRESS,
            ),
        )
    ]


def throttle(request: HttpRequest, account: str) -> Throttle:
    """Whether this account or address has had its allowance of refused sign-ins."""
    full = [u for u in _counts(request, account, increment=False) if u["count"] >= u["limit"]]
    if not full:
        return Throttle(False)
    return Throttle(True, max(int(u["time_left"]) for u in full))


def count_refusal(request: HttpRequest, account: str) -> None:
    """One more refused sign-in for this account and address."""
    _counts(request, account, increment=True)
