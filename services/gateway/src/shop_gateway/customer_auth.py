"""Who the customer is: their bearer token checked, login limits, and the token settings the app carries."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shop_gateway.customer_tokens import IssuedToken, TokenRefused, mint, verify
from shop_gateway.ratelimit import RateLimiter, caller_address, too_many
from shop_gateway.settings import GatewaySettings
from shop_runtime.clock import Clock, clock_for
from shop_runtime.problems import Problem

log = logging.getLogger(__name__)

customer_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CustomerToken",
    description="A customer's token from POST /v1/auth/token (valid for minutes; log in again after).",
)


@dataclass
class CustomerAuth:
    """Set up once per app: signing keys, token lifetime, the clock, and the login limiters."""

    keys: tuple[str, ...]
    lifetime: timedelta
    clock: Clock
    per_email: RateLimiter
    per_client: RateLimiter

    def issue(self, customer_id: str) -> IssuedToken:
        return mint(customer_id, keys=self.keys, now=self.clock.now(), lifetime=self.lifetime)

    def customer_of(self, token: str) -> str:
        """The customer id of a token; a 401 problem saying why not otherwise."""
        try:
            return verify(token, keys=self.keys, now=self.clock.now())
        except TokenRefused as refused:
            title = (
                "The token has expired; log in again"
                if refused.reason == "expired"
                else "The token is not valid"
            )
            raise Problem(
                401,
                title,
                code=f"{refused.reason}_token",
                headers={
                    "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{refused.reason}"'
                },
            ) from refused


def install_customer_auth(app: FastAPI, settings: GatewaySettings) -> None:
    keys = settings.customer_token_keys
    if not keys:
        log.warning(
            "SHOP_GATEWAY_CUSTOMER_TOKEN_KEYS is not set: customer tokens are signed with a random key of this "
            "process only (they end with it and other replicas refuse them)"
        )
        keys = (secrets.token_urlsafe(32),)
    app.state.customer_auth = CustomerAuth(
        keys=keys,
        lifetime=timedelta(minutes=settings.gateway_customer_token_minutes),
        clock=clock_for(settings.gateway_test_clock_file),
        per_email=RateLimiter(
            rate=settings.gateway_login_rate_per_email_per_minute / 60,
            burst=settings.gateway_login_burst_per_email,
        ),
        per_client=RateLimiter(
            rate=settings.gateway_login_rate_per_client_per_second,
            burst=settings.gateway_login_burst_per_client,
        ),
    )


async def customer_auth(request: Request) -> CustomerAuth:
    return request.app.state.customer_auth  # type: ignore[no-any-return]


CustomerAuthDep = Annotated[CustomerAuth, Depends(customer_auth)]


async def current_customer(
    auth: CustomerAuthDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(customer_bearer)] = None,
) -> str:
    """A dependency: the signed-in customer's id; 401 without a valid, unexpired customer token."""
    if bearer is None or not bearer.credentials.strip():
        raise Problem(
            401,
            "Log in and send the token as 'Authorization: Bearer <token>'",
            code="missing_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return auth.customer_of(bearer.credentials.strip())


CustomerDep = Annotated[str, Depends(current_customer)]


async def optional_customer(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(customer_bearer)] = None,
) -> str | None:
    """For calls open to guests (checkout among them): None without a bearer token; a bearer token must be a valid
    customer token. The app's ``CustomerAuth`` is read here rather than through a dependency of its own, one fewer
    for FastAPI to solve on every checkout."""
    if bearer is None or not bearer.credentials.strip():
        return None
    auth: CustomerAuth = request.app.state.customer_auth
    return auth.customer_of(bearer.credentials.strip())


def limit_logins(request: Request, auth: CustomerAuth, email: str | None) -> None:
    """429 with Retry-After when this client address, or this email in any case, tried too often."""
    client = caller_address(request)
    now = time.monotonic()
    wait = auth.per_client.check(client, now)
    if not wait and email is not None:
        wait = auth.per_email.check(email.strip().casefold(), now)
    if wait:
        raise too_many("attempts", wait)
