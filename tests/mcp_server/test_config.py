"""Pure tests of configuration: env, the JSON file (ConfigMap data), precedence, errors."""

import json

import pytest

from mcp_k8s_server import config


def test_defaults():
    s = config.load({})
    assert s.transport == "stdio" and s.port == 8080 and not s.read_only
    assert s.bind_host == "0.0.0.0" and s.default_namespace == "default"
    assert s.rate_limit_requests == 0 and not s.enable_metrics and s.log_level == "INFO"


def test_env_values_parsed():
    s = config.load(
        {
            "MCP_TRANSPORT": "streamable-http",
            "MCP_PORT": "3001",
            "MCP_SERVER_NAME": "basic-mcpserver",
            "POD_NAMESPACE": "team-a",
            "LOG_LEVEL": "warn",
            "ENABLE_METRICS": "true",
            "RATE_LIMIT_REQUESTS": "100",
            "MCP_READ_ONLY": "yes",
            "MCP_NAMESPACES": "team-a, team-b",
        }
    )
    assert s.http and s.port == 3001 and s.log_level == "WARNING"
    assert s.enable_metrics and s.rate_limit_requests == 100 and s.read_only
    assert s.namespaces == ("team-a", "team-b") and s.default_namespace == "team-a"
    hosts = s.service_hosts()
    for h in ("basic-mcpserver:*", "basic-mcpserver.team-a.svc:*", "basic-mcpserver.team-a.svc.cluster.local:*",
              "basic-mcpserver.team-a.svc.cluster.local", "127.0.0.1:*", "localhost:*"):
        assert h in hosts


def test_config_file_takes_effect_and_wins_over_env(tmp_path):
    # the seed's advanced sample, as the operator's ConfigMap renders it (all strings)
    f = tmp_path / "config.json"
    f.write_text(json.dumps({"MCP_SERVER_NAME": "production-k8s-server", "LOG_LEVEL": "warn",
                             "ENABLE_METRICS": "true", "RATE_LIMIT_REQUESTS": "100"}))
    s = config.load({"MCP_CONFIG_FILE": str(f), "MCP_SERVER_NAME": "advanced-mcpserver", "LOG_LEVEL": "debug"})
    assert s.server_name == "production-k8s-server"  # file wins
    assert s.service_name == "advanced-mcpserver"  # env name kept for Service host names
    assert "advanced-mcpserver:*" in s.service_hosts()
    assert s.log_level == "WARNING" and s.enable_metrics and s.rate_limit_requests == 100
    assert s.warnings == ()


def test_native_json_types_accepted(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"ENABLE_METRICS": True, "RATE_LIMIT_REQUESTS": 5, "MCP_NAMESPACES": ["a", "b"]}))
    s = config.load({"MCP_CONFIG_FILE": str(f)})
    assert s.enable_metrics and s.rate_limit_requests == 5 and s.namespaces == ("a", "b")


def test_unknown_keys_are_reported(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"LOGLEVEL": "info", "FOO": 1, "POD_NAME": "x"}))
    s = config.load({"MCP_CONFIG_FILE": str(f)})
    assert any("'LOGLEVEL'" in w and "LOG_LEVEL" in w for w in s.warnings)
    assert any("'FOO'" in w for w in s.warnings)
    assert any("'POD_NAME'" in w and "environment" in w for w in s.warnings)


@pytest.mark.parametrize(
    "env,needle",
    [
        ({"MCP_TRANSPORT": "grpc"}, "MCP_TRANSPORT"),
        ({"MCP_PORT": "0"}, "MCP_PORT"),
        ({"MCP_PORT": "http"}, "MCP_PORT"),
        ({"ENABLE_METRICS": "maybe"}, "ENABLE_METRICS"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"MCP_NAMESPACES": "a", "MCP_DEFAULT_NAMESPACE": "b"}, "MCP_DEFAULT_NAMESPACE"),
        ({"MCP_CONFIG_FILE": "/nonexistent/config.json"}, "MCP_CONFIG_FILE"),
    ],
)
def test_bad_values_name_the_key(env, needle):
    with pytest.raises(config.ConfigError, match=needle):
        config.load(env)


def test_bad_file(tmp_path):
    f = tmp_path / "c.json"
    f.write_text("{not json")
    with pytest.raises(config.ConfigError, match="not valid JSON"):
        config.load({"MCP_CONFIG_FILE": str(f)})
    f.write_text("[1]")
    with pytest.raises(config.ConfigError, match="JSON object"):
        config.load({"MCP_CONFIG_FILE": str(f)})


def test_token_from_file(tmp_path):
    f = tmp_path / "token"
    f.write_text("s3cret\n")
    s = config.load({"MCP_AUTH_TOKEN_FILE": str(f)})
    assert s.auth_token == "s3cret"
    assert "s3cret" not in repr(s)
    f.write_text("")
    with pytest.raises(config.ConfigError, match="empty"):
        config.load({"MCP_AUTH_TOKEN_FILE": str(f)})


def test_host_override():
    assert config.load({"MCP_HOST": "127.0.0.1"}).bind_host == "127.0.0.1"
    s = config.load({"MCP_ALLOWED_HOSTS": "mcp.example.com, mcp.example.com:443"})
    assert "mcp.example.com" in s.service_hosts() and "mcp.example.com:443" in s.service_hosts()


def test_worker_count_follows_the_pod_cpu_limit(tmp_path):
    (tmp_path / "cpu.max").write_text("250000 100000\n")  # limits.cpu: 2500m
    assert config.cpu_limit(str(tmp_path)) == 2
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # 500m: still one worker
    assert config.cpu_limit(str(tmp_path)) == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")  # no limit
    assert config.cpu_limit(str(tmp_path)) is None
    assert config.cpu_limit(str(tmp_path / "none")) is None  # no cgroup v2
    s = config.load({})
    assert config.worker_count(s, limit=0) == 1  # no CPU limit: one worker
    assert config.worker_count(s, limit=3) == 3 and config.worker_count(s, limit=16) == config.MAX_AUTO_WORKERS
    assert config.worker_count(config.load({"MCP_WORKERS": "2"}), limit=8) == 2
    with pytest.raises(config.ConfigError):
        config.load({"MCP_WORKERS": "-1"})
