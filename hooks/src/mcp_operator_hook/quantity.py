"""Kubernetes resource quantities, enough to compare them (requests <= limits)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
            "P": Decimal("1e15"), "E": Decimal("1e18")}
# Same grammar as the CRD's pattern (k8s.io/apimachinery resource.Quantity).
QUANTITY_RE = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?$"
)


def parse_quantity(value: int | str) -> Decimal:
    """Value of a quantity in base units; raises ValueError when it is not a quantity."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise ValueError(f"not a quantity: {value!r}")
    m = QUANTITY_RE.match(value)
    if not m:
        raise ValueError(f"not a quantity: {value!r}")
    try:
        number = Decimal(m.group("num"))
        suffix = m.group("suffix") or ""
        if suffix in _BINARY:
            return number * _BINARY[suffix]
        if suffix in _DECIMAL:
            return number * _DECIMAL[suffix]
        return number * (Decimal(10) ** Decimal(suffix[1:]))
    except (InvalidOperation, ArithmeticError) as exc:  # pragma: no cover - regex guards
        raise ValueError(f"not a quantity: {value!r}") from exc


_DEC_SUFFIX = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BIN_SUFFIX = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}


def canonical_quantity(value: int | str) -> str:
    """The string the API server stores for a quantity (resource.Quantity's canonical form), so a
    desired child compares equal to the live one and Metacontroller does not re-apply it on every
    sync: "1024Mi" -> "1Gi", "0.5" -> "500m", 1 -> "1", "1000m" -> "1", "1.5Gi" -> "1536Mi".
    Raises ValueError when it is not a quantity."""
    number = parse_quantity(value)
    if number == 0:
        return "0"
    if isinstance(value, int) and not isinstance(value, bool):
        fmt = "dec"
    else:
        suffix = QUANTITY_RE.match(value).group("suffix") or ""
        fmt = "bin" if suffix in _BINARY else ("exp" if len(suffix) > 1 and suffix[0] in "eE" else "dec")
    # the API keeps nano precision, rounding up (away from zero)
    nanos = number * 10**9
    if nanos != nanos.to_integral_value():
        nanos = nanos.to_integral_value(rounding="ROUND_CEILING" if number > 0 else "ROUND_FLOOR")
        number = nanos / 10**9
    if fmt == "bin":
        if -1024 < number < 1024 or number != number.to_integral_value():
            fmt = "dec"
        else:
            mantissa, exp = int(number), 0
            while exp < 6 and mantissa % 1024 == 0:
                mantissa //= 1024
                exp += 1
            return f"{mantissa}{_BIN_SUFFIX[exp]}"
    # mantissa x 10^exp, exp a multiple of 3, mantissa an integer with as few trailing zeros as possible
    mantissa, exp = int(nanos), -9
    while exp < 18 and mantissa % 1000 == 0:
        mantissa //= 1000
        exp += 3
    if fmt == "exp":
        return f"{mantissa}" + (f"e{exp}" if exp else "")
    return f"{mantissa}{_DEC_SUFFIX[exp]}"
