"""Signed session ids: pure tests of the rule that a client can never name an address."""

import pytest

from mcp_bridge import session_id

KEY = b"k" * 32


def test_round_trip_names_the_owner():
    sid = session_id.mint(KEY, "10.1.2.3:8080")
    assert session_id.verify(KEY, sid) == "10.1.2.3:8080"
    assert all(0x21 <= ord(c) <= 0x7E for c in sid)  # the spec's visible-ASCII rule


def test_ipv6_owner():
    sid = session_id.mint(KEY, "[fd00::7]:8080")
    assert session_id.verify(KEY, sid) == "[fd00::7]:8080"


def test_ids_are_unique():
    assert len({session_id.mint(KEY, "10.1.2.3:8080") for _ in range(100)}) == 100


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # MAC changed
        lambda s: ".".join([s.split(".")[0], session_id._b64(b"6.6.6.6:80"), *s.split(".")[2:]]),  # owner swapped
        lambda s: s.split(".", 1)[1],  # truncated
        lambda s: "b2" + s[2:],  # unknown version
        lambda s: "",
        lambda s: "not-a-session",
    ],
)
def test_tampered_ids_are_rejected(mangle):
    assert session_id.verify(KEY, mangle(session_id.mint(KEY, "10.1.2.3:8080"))) is None


def test_another_key_is_rejected():
    assert session_id.verify(b"x" * 32, session_id.mint(KEY, "10.1.2.3:8080")) is None


@pytest.mark.parametrize("owner", ["example.com:80", "10.1.2.3", "10.1.2.3:0", "10.1.2.3:99999", "metadata.google.internal:80"])
def test_owner_must_be_an_ip_and_port(owner):
    with pytest.raises(ValueError):
        session_id.mint(KEY, owner)
