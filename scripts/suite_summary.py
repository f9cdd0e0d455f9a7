"""Per-suite counts from pytest's JUnit XML, ending with one plain 'N passed, N failed' line."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict


def main(path: str) -> None:
    suites: dict[str, Counter] = defaultdict(Counter)
    seconds: Counter = Counter()
    for case in ET.parse(path).iter("testcase"):
        parts = case.get("classname", "").split(".")
        suite = "/".join(parts[:2]) if parts and parts[0] == "tests" else parts[0]
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        suites[suite][outcome] += 1
        seconds[suite] += float(case.get("time", 0))
    total: Counter = Counter()
    print("\nsuite                      passed  failed  skipped   seconds")
    for suite in sorted(suites):
        c = suites[suite]
        total.update(c)
        print(f"{suite:<26} {c['passed']:>6}  {c['failed']:>6}  {c['skipped']:>7}  {seconds[suite]:>8.0f}")
    print(f"tests: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")


if __name__ == "__main__":
    main(sys.argv[1])
