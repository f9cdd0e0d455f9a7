"""tests/hook: the fuzz suite's case count in the run's summary, so CI's log shows how many ran."""

import sys


def pytest_terminal_summary(terminalreporter):
    fuzz = sys.modules.get("tests.hook.test_hook_fuzz")
    if fuzz is not None and fuzz._COUNTS:
        terminalreporter.write_line(fuzz.summary())
