"""Fulfillment's return rules without I/O: the sandbox carrier's labels and what a warehouse may report
received."""

from __future__ import annotations

import pytest

from shop_fulfillment.domain import InvalidReturnReceipt, check_return_receipt, sandbox_return_label


def test_the_sandbox_label_is_the_same_when_asked_twice_and_differs_per_return() -> None:
    first = sandbox_return_label("r-1")
    assert first == sandbox_return_label("r-1")
    assert first != sandbox_return_label("r-2")
    assert first.carrier == "sandbox"
    assert first.label_url.endswith(f"{first.label_id}.pdf")
    assert first.tracking_number.startswith("SBXR")
    assert len(first.tracking_number) == 16


def test_a_receipt_within_the_return_passes_split_by_condition() -> None:
    check_return_receipt({"TEE-1": 2}, [("TEE-1", 1, "resellable"), ("TEE-1", 1, "damaged")])


@pytest.mark.parametrize(
    ("received", "field"),
    [
        ([("CAP-1", 1, "resellable")], "lines[0].sku"),
        ([("TEE-1", 2, "resellable"), ("TEE-1", 1, "damaged")], "lines[1].quantity"),
    ],
)
def test_a_receipt_beyond_the_return_is_refused_naming_the_line(
    received: list[tuple[str, int, str]], field: str
) -> None:
    with pytest.raises(InvalidReturnReceipt) as refused:
        check_return_receipt({"TEE-1": 2}, received)
    assert refused.value.fields == (field,)
