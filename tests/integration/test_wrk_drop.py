"""bench/drop.lua driven by the real wrk against a small shop stand-in on loopback: every buyer is sent once, at
their arrival, with their own key; a buyer told 503 comes back after Retry-After with the same key; each answer is
read back as that buyer's."""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.wrk_drop import Crowd, open_loop

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (make bench installs it)"
)

UNITS = 3


class _Shop(BaseHTTPRequestHandler):
    """Holds UNITS units for the first keys it sees, tells the rest sold out, turns away the key ending in -5 once
    with 503 busy, and answers the key ending in -1 once with a 503 of a service that timed out, after holding
    its unit (as the gateway does when orders answers too late)."""

    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    keys: list[str] = []
    held: list[str] = []
    turned_away: set[str] = set()

    def _answer(self, status: int, body: dict[str, object], **headers: str) -> None:
        encoded = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.send_header("X-Request-Id", self.headers.get("X-Request-Id", "generated0"))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(encoded)

    def do_GET(self) -> None:
        self._answer(200, {"status": "ok"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers["Idempotency-Key"]
        with self.lock:
            self.keys.append(key)
            if key.endswith("-5") and key not in self.turned_away:
                self.turned_away.add(key)
                self._answer(503, {"code": "busy"}, **{"Retry-After": "1"})
                return
            if key.endswith("-1") and key not in self.turned_away:
                self.turned_away.add(key)
                self.held.append(key)
                self._answer(503, {"code": "service_unavailable"}, **{"Retry-After": "1"})
                return
            if len(self.held) < UNITS or key in self.held:
                if key not in self.held:
                    self.held.append(key)
                self._answer(202, {"id": f"order-{key}", "status": "reserved", "access_token": "t"})
                return
        self._answer(409, {"code": "sold_out", "errors": [{"sku": body["lines"][0]["sku"]}]})

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def shop() -> Iterator[str]:
    _Shop.keys, _Shop.held, _Shop.turned_away = [], [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_each_buyer_arrives_once_on_time_and_hears_their_own_answer(shop: str) -> None:
    sent = open_loop(shop, sku="DROP-T", buyers=10, window=1.0, crowd=Crowd(connections=4), answer_within=10)

    placed = sent["load"].placed
    assert len(placed) == 10
    assert all(buyer.status in (202, 409) for buyer in placed)
    # every order id is the one the buyer's own key placed
    assert sorted(buyer.order_id for buyer in placed if buyer.order_id) == sorted(
        f"order-{k}" for k in _Shop.held
    )
    assert sum(1 for buyer in placed if buyer.status == 409 and '"sold_out"' in (buyer.error or "")) == 7
    # ten keys, one each; the buyer told busy and the one whose unit was held behind a 503 each came back once
    # with the same key, and the second was answered the order its key had placed
    assert len(set(_Shop.keys)) == 10
    assert len(_Shop.keys) == 12
    back = sorted((buyer for buyer in placed if buyer.turned_away), key=lambda buyer: buyer.scheduled)
    assert [(buyer.turned_away, buyer.not_busy) for buyer in back] == [(1, 1), (1, 0)]
    assert all(buyer.answered - buyer.scheduled >= 1.0 for buyer in back)
    held_behind_a_503 = back[0]
    assert held_behind_a_503.status == 202
    assert held_behind_a_503.order_id is not None
    assert held_behind_a_503.order_id.endswith("-1")
    # arrivals 0.1 s apart from the first, and no buyer was sent late (four connections are enough)
    gaps = [later.scheduled - earlier.scheduled for earlier, later in itertools.pairwise(placed)]
    assert all(abs(gap - 0.1) < 1e-6 for gap in gaps)
    assert sent["generator_late_by_s"] < 0.5
    assert all(buyer.answered >= buyer.scheduled for buyer in placed)
