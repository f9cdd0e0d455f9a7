"""Quantities: parsing (requests <= limits) and the API server's canonical form.

The canonical pairs were checked against kube-apiserver v1.37.2 (a Pod's limits.cpu read back)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mcp_operator_hook.quantity import canonical_quantity, parse_quantity

CANONICAL = [
    ("1024Mi", "1Gi"), ("0.5", "500m"), (1, "1"), ("1000m", "1"), ("1.5Gi", "1536Mi"), ("100m", "100m"),
    ("128Mi", "128Mi"), ("100000000", "100M"), (100000000, "100M"), ("1e3", "1e3"), ("1.5e3", "1500"),
    ("0.1", "100m"), ("1Ki", "1Ki"), ("1023Ki", "1023Ki"), ("512", "512"), ("1025", "1025"), ("0", "0"),
    ("129e6", "129e6"), ("3.5", "3500m"), ("2048", "2048"), ("1.5", "1500m"), ("1E", "1E"), ("2k", "2k"),
    ("1.5k", "1500"), ("10e-3", "10e-3"), ("12e2", "1200"), ("1000Ki", "1000Ki"), ("1536Ki", "1536Ki"),
    ("0.5Gi", "512Mi"), ("1.1Mi", "1153433600m"), ("0.3e1", "3"), (".5", "500m"), ("2e-1", "200e-3"),
    ("1500000000m", "1500k"), ("7Ei", "7Ei"), ("1000000k", "1G"), ("1.5M", "1500k"), ("1.50", "1500m"),
    ("2000000000u", "2k"),
]


@pytest.mark.parametrize("value,want", CANONICAL, ids=[str(c[0]) for c in CANONICAL])
def test_canonical_form_matches_the_apiserver(value, want):
    assert canonical_quantity(value) == want
    assert parse_quantity(want) == parse_quantity(value)


@pytest.mark.parametrize("value,want", [("1Gi", 2**30), ("500m", Decimal("0.5")), ("1e3", 1000), (3, 3),
                                        ("1.5k", 1500), ("-1", -1), ("2n", Decimal("2e-9"))])
def test_parse(value, want):
    assert parse_quantity(value) == Decimal(want)


@pytest.mark.parametrize("value", ["", "lots", "1Gb", "1 Gi", "Gi", True, None, 1.5, "1e", "--1"])
def test_not_quantities(value):
    with pytest.raises(ValueError):
        parse_quantity(value)
