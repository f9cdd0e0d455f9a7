"""The bridge's command line and environment contract."""

import pytest

from mcp_bridge.config import parse


def test_defaults_and_command():
    s = parse(["--port", "9000", "--", "uvx", "mcp-server-time==2026.10.19"], {"POD_IP": "10.0.0.5", "MCP_BRIDGE_SESSION_KEY": "s" * 32})
    assert s.command == ["uvx", "mcp-server-time==2026.10.19"]
    assert (s.port, s.path, s.max_sessions, s.session_idle_timeout) == (9000, "/mcp", 20, 1800.0)
    assert s.advertise == "10.0.0.5:9000"
    assert s.session_key == b"s" * 32 and s.key_is_shared
    assert "s" * 32 not in repr(s)  # the key never shows in logs of the settings


def test_ipv6_pod_ip():
    assert parse(["--", "x"], {"POD_IP": "fd00::5"}).advertise == "[fd00::5]:8080"


def test_without_key_a_random_one_per_process():
    a, b = parse(["--", "x"], {}), parse(["--", "x"], {})
    assert not a.key_is_shared and a.session_key != b.session_key


def test_child_env_drops_the_key(monkeypatch):
    monkeypatch.setenv("MCP_BRIDGE_SESSION_KEY", "s" * 32)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    env = parse(["--", "x"]).child_env()
    assert "MCP_BRIDGE_SESSION_KEY" not in env and env["HTTPS_PROXY"] == "http://proxy:3128"


@pytest.mark.parametrize(
    "argv,env,message",
    [
        ([], {}, "no stdio server command"),
        (["--"], {}, "no stdio server command"),
        (["--max-sessions", "0", "--", "x"], {}, "positive integer"),
        (["--session-idle-timeout", "-1", "--", "x"], {}, "positive number"),
        (["--path", "mcp", "--", "x"], {}, "must start with /"),
        (["--", "x"], {"POD_IP": "my-pod"}, "POD_IP must be an IP"),
        (["--", "x"], {"MCP_BRIDGE_SESSION_KEY": "short"}, "at least 16"),
        (["--", "x"], {"MCP_BRIDGE_ADVERTISE_ADDRESS": "evil.example:80"}, "MCP_BRIDGE_ADVERTISE_ADDRESS"),
    ],
)
def test_bad_input_is_a_clear_error(argv, env, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(argv, env)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "origin,allowed,ok",
    [
        ("http://localhost:6274", (), True),
        ("http://127.0.0.1:3000", (), True),
        ("http://[::1]:3000", (), True),
        ("https://evil.example", (), False),
        ("http://localhost.evil.example", (), False),
        ("null", (), False),
        ("https://console.example.com", ("https://console.example.com",), True),
    ],
)
def test_origin_rule(origin, allowed, ok):
    from mcp_bridge.app import origin_allowed

    assert origin_allowed(origin, allowed) is ok


def test_spare_processes():
    assert parse(["--", "x"], {}).spare_processes == 1
    assert parse(["--spare-processes", "0", "--", "x"], {}).spare_processes == 0
