"""The checkout rate limit: token buckets per client, and who the client is behind proxies."""

import ipaddress

from shop_gateway.ratelimit import RateLimiter, TokenBucket, client_address


def test_a_bucket_allows_the_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == 0.5  # one token comes back in half a second
    assert bucket.take(100.5) == 0.0
    assert bucket.take(100.5) > 0


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket.full(rate=10.0, burst=2, now=0.0)
    bucket.take(0.0)
    bucket.take(0.0)
    assert [bucket.take(1000.0) for _ in range(3)][:2] == [0.0, 0.0]
    assert bucket.take(1000.0) > 0


def test_a_clock_going_backwards_adds_no_tokens() -> None:
    bucket = TokenBucket.full(rate=1.0, burst=1, now=10.0)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(5.0) > 0


def test_the_limiter_keeps_a_bucket_per_client_and_answers_whole_seconds() -> None:
    limiter = RateLimiter(rate=0.5, burst=2)
    assert limiter.check("10.0.0.1", 0.0) == 0
    assert limiter.check("10.0.0.1", 0.0) == 0
    assert limiter.check("10.0.0.1", 0.0) == 2  # 1 token at 0.5/s: 2 s
    assert limiter.check("10.0.0.2", 0.0) == 0  # another client has its own bucket
    assert limiter.check("10.0.0.1", 2.0) == 0


def test_retry_after_is_at_least_one_second() -> None:
    limiter = RateLimiter(rate=100.0, burst=1)
    assert limiter.check("a", 0.0) == 0
    assert limiter.check("a", 0.0) == 1


def test_a_rate_of_zero_turns_the_limit_off() -> None:
    limiter = RateLimiter(rate=0.0, burst=1)
    assert not limiter.enabled
    assert all(limiter.check("a", 0.0) == 0 for _ in range(1000))


def test_the_limiter_forgets_the_least_recently_seen_clients_first() -> None:
    limiter = RateLimiter(rate=0.001, burst=1, max_keys=2)
    limiter.check("a", 0.0)
    limiter.check("b", 0.0)
    limiter.check("a", 0.0)  # a is used again: b is now the oldest
    limiter.check("c", 0.0)
    assert limiter.check("b", 0.0) == 0  # forgotten, back full
    assert limiter.check("c", 0.0) > 0


PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() -> None:
    assert client_address("203.0.113.9", ["1.2.3.4"], ()) == "203.0.113.9"
    assert client_address("203.0.113.9", ["1.2.3.4"], PROXIES) == "203.0.113.9"  # peer is no proxy


def test_behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() -> None:
    # the client wrote 6.6.6.6 itself; the proxy appended the address it saw
    assert client_address("10.0.0.5", ["6.6.6.6, 198.51.100.7"], PROXIES) == "198.51.100.7"
    assert client_address("10.0.0.5", ["198.51.100.7, 10.1.1.1"], PROXIES) == "198.51.100.7"
    assert client_address("10.0.0.5", ["6.6.6.6", "198.51.100.7"], PROXIES) == "198.51.100.7"
    assert client_address("10.0.0.5", [], PROXIES) == "10.0.0.5"
    assert client_address("10.0.0.5", ["not-an-ip"], PROXIES) == "10.0.0.5"
    assert client_address(None, [], PROXIES) == "unknown"
