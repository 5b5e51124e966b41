"""Rate limits, free of I/O: a token bucket per client, and who the client is behind trusted proxies.

The buckets live in the memory of one gateway process: with N gateway replicas behind a load balancer a client
may get up to N times the configured rate. That is the intended trade-off (no shared store on the checkout path);
size the rate per replica, or put a shared limiter in front when an exact global limit is needed.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request

from shop_gateway.settings import GatewaySettings, IpNetwork
from shop_runtime.problems import Problem


@dataclass
class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` tokens per second; each call takes one."""

    rate: float
    burst: int
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, burst: int, now: float) -> TokenBucket:
        return cls(rate=rate, burst=burst, tokens=float(burst), updated=now)

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens: 0.0 when allowed, else the seconds until that many tokens are there."""
        elapsed = max(now - self.updated, 0.0)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        if self.rate <= 0:
            return math.inf
        return (cost - self.tokens) / self.rate


class RateLimiter:
    """A token bucket per key (a client address), per gateway replica (see the module docstring).

    At most ``max_keys`` buckets are kept; the least recently used goes first, and a forgotten bucket comes
    back full, which errs towards letting a client through.
    """

    def __init__(self, *, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key: str, now: float) -> int:
        """0 when the call may go ahead, else the whole seconds to wait (for ``Retry-After``, at least 1)."""
        if not self.enabled:
            return 0
        bucket = self._buckets.pop(key, None) or TokenBucket.full(self.rate, self.burst, now)
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        wait = bucket.take(now)
        return 0 if wait == 0 else max(1, math.ceil(wait))


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IpNetwork]) -> str:
    """The client's address: the connection's peer, unless the peer is a trusted proxy.

    Behind trusted proxies, ``X-Forwarded-For`` is read from the right (the hop nearest to us) and the first
    address that is not itself a trusted proxy is the client. Anything a client wrote further left is ignored,
    so a client cannot pick its own bucket by sending the header. Without trusted proxies the header is ignored.
    """
    if peer is None:
        return "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain: fall back to the proxy itself, never to a client-chosen value
        if not any(address in network for network in trusted):
            return str(address)
    return hops[0] if hops else peer


def caller_address(request: Request) -> str:
    """The address of the client behind this request, as ``client_address`` finds it with the settings' proxies."""
    settings: GatewaySettings = request.app.state.settings
    return client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        settings.trusted_proxies,
    )


def too_many(what: str, wait: int) -> Problem:
    """The 429 answer for a caller that must wait ``wait`` seconds before trying again."""
    return Problem(
        429,
        f"Too many {what}",
        f"try again in {wait} s",
        code="rate_limited",
        headers={"Retry-After": str(wait)},
    )


def enforce(request: Request, limiter: RateLimiter, what: str) -> None:
    """429 with Retry-After when this request's client address has used up its ``limiter``."""
    if not limiter.enabled:
        return
    wait = limiter.check(caller_address(request), time.monotonic())
    if wait:
        raise too_many(what, wait)


def _is_trusted(peer: str, trusted: Sequence[IpNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)
