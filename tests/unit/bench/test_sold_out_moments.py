"""When a drop sold out, as the buyers saw it: the last unit held and the first 409, after the last arrival needed."""

from __future__ import annotations

import pytest

from bench.s2 import sold_out_moments
from bench.shop import Placed

SOLD_OUT = '{"type": "...", "code": "sold_out"}'


def _held(arrived: float, answered: float, order: str) -> Placed:
    return Placed(scheduled=arrived, answered=answered, status=202, order_id=order)


def _refused(arrived: float, answered: float) -> Placed:
    return Placed(scheduled=arrived, answered=answered, status=409, error=SOLD_OUT)


def test_both_moments_count_from_the_arrival_of_the_buyer_who_could_take_the_last_unit() -> None:
    buyers = [
        _refused(3.0, 3.9),
        _held(0.0, 0.4, "a"),
        _refused(2.0, 2.6),
        _held(1.0, 1.25, "b"),
        Placed(scheduled=4.0, answered=4.1, status=503, error="busy"),
    ]

    held, told = sold_out_moments(buyers, units=2)

    assert held == pytest.approx(0.25)  # b's unit, answered 0.25 s after b, the 2nd arrival
    assert told == pytest.approx(1.6)  # the first 409 (at 2.6), after that same arrival


def test_a_drop_that_never_sold_out_has_no_moments() -> None:
    buyers = [_held(0.0, 0.2, "a"), _held(1.0, 1.1, "b")]

    assert sold_out_moments(buyers, units=3) == (None, None)
    assert sold_out_moments(buyers, units=2)[1] is None  # every unit held, nobody told sold out
