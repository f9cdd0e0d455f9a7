"""A small Dockerfile reader and "builder" for hosts without a container engine.

`parse()` reads the instructions (continuations, comments, parser directives, ARG/ENV expansion) and
groups them into stages. `Build` replays the stages a target needs inside a sandbox directory that
stands for the image's filesystem: WORKDIR, COPY from the build context (honouring .dockerignore)
and RUN (through bash, with the stage's ENV) are executed for real; absolute paths the image owns
(`/opt`, `/src`) are mapped into the sandbox, so a virtualenv made by the Dockerfile's own RUN lines
ends up at `<sandbox>/opt/venv`. The base image is stood in for by the host's Python of the same
minor version. RUN lines that only create the runtime user are not executed on the host (the test
checks their effect through USER instead).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

OWNED_PREFIXES = ("/opt", "/src")
USER_SETUP = re.compile(r"^\s*(groupadd|useradd|addgroup|adduser)\b")


@dataclass
class Instruction:
    cmd: str
    flags: dict[str, str]
    args: str
    line: int


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, cmd: str) -> list[Instruction]:
        return [i for i in self.instructions if i.cmd == cmd]


@dataclass
class Metadata:
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    exposed: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> list[str]:
        return (self.entrypoint or []) + (self.cmd or [])


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def chain(self, name: str) -> list[Stage]:
        """The stage and the stages it is built FROM, base first."""
        names = {s.name for s in self.stages}
        out: list[Stage] = []
        s = self.stage(name)
        while True:
            out.insert(0, s)
            if s.base in names:
                s = self.stage(s.base)
            else:
                return out

    def metadata(self, target: str) -> "Metadata":
        """What `docker inspect` reports for a target: ENV, USER, ENTRYPOINT, CMD, EXPOSE and LABEL,
        each inherited across the target's FROM chain (build-time VERSION/REVISION left empty)."""
        scope = {**self.global_args, "VERSION": "", "REVISION": ""}
        meta = Metadata()
        for s in self.chain(target):
            for inst in s.instructions:
                if inst.cmd == "ENV":
                    for k, v in parse_kv(inst.args).items():
                        meta.env[k] = expand(v, {**scope, **meta.env})
                elif inst.cmd == "LABEL":
                    meta.labels.update({k: expand(v, scope) for k, v in parse_kv(inst.args).items()})
                elif inst.cmd == "USER":
                    meta.user = inst.args
                elif inst.cmd == "CMD":
                    meta.cmd = exec_form(inst)
                elif inst.cmd == "ENTRYPOINT":
                    meta.entrypoint = exec_form(inst)
                elif inst.cmd == "EXPOSE":
                    meta.exposed += inst.args.split()
        return meta

    def needed(self, target: str) -> list[Stage]:
        """Every stage the target depends on (FROM chain and COPY --from), in build order."""
        order: list[Stage] = []

        def visit(name: str) -> None:
            for s in self.chain(name):
                for c in s.all("COPY"):
                    if "from" in c.flags:
                        visit(c.flags["from"])
                if s not in order:
                    order.append(s)

        visit(target)
        return order


def _logical_lines(text: str):
    buf, start = "", None
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comment lines inside a continuation are dropped, as Docker does
        if start is None:
            start = n
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        yield start, buf
        buf, start = "", None
    if buf:
        yield start, buf


def expand(value: str, env: dict[str, str]) -> str:
    def sub(m):
        name = m.group(1) or m.group(2)
        return env.get(name, "")

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", sub, value)


def parse_kv(args: str) -> dict[str, str]:
    """ENV/LABEL/ARG `k=v k2="v 2"` (or the legacy `ENV k v`)."""
    parts = shlex.split(args)
    if parts and "=" not in parts[0]:
        return {parts[0]: " ".join(parts[1:])}
    out = {}
    for p in parts:
        k, _, v = p.partition("=")
        out[k] = v
    return out


def parse(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line, text in _logical_lines(path.read_text()):
        cmd, _, rest = text.partition(" ")
        cmd = cmd.upper()
        flags: dict[str, str] = {}
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            k, _, v = flag[2:].partition("=")
            flags[k] = v
            rest = rest.strip()
        if cmd == "FROM":
            words = rest.split()
            image = expand(words[0], global_args)
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=image))
            continue
        if not stages:
            if cmd == "ARG":
                global_args.update(parse_kv(rest))
            continue
        stages[-1].instructions.append(Instruction(cmd, flags, rest, line))
    return Dockerfile(global_args, stages)


def exec_form(inst: Instruction | None) -> list[str] | None:
    if inst is None:
        return None
    value = json.loads(inst.args)  # raises for shell form: we require exec form (signals reach PID 1)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


@dataclass
class Image:
    """What `docker inspect` would say about a built target, with paths mapped into the sandbox."""

    root: Path
    env: dict[str, str]
    user: str | None
    workdir: str
    entrypoint: list[str] | None
    cmd: list[str] | None
    exposed: list[str]
    labels: dict[str, str]

    @property
    def command(self) -> list[str]:
        return (self.entrypoint or []) + (self.cmd or [])

    def host_path(self, p: str) -> str:
        return map_paths(p, self.root)

    def host_env(self) -> dict[str, str]:
        return {k: map_paths(v, self.root) for k, v in self.env.items()}


def map_paths(text: str, root: Path) -> str:
    pattern = r"(?<![\w./-])(" + "|".join(re.escape(p) for p in OWNED_PREFIXES) + r")(?=/|\b|$)"
    return re.sub(pattern, lambda m: f"{root}{m.group(1)}", text)


def _pattern_regex(pat: str) -> re.Pattern:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex over slash paths."""
    out, i = "", 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pat.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pat[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pat[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pat[i]), i + 1
    return re.compile(out + r"\Z")


def _ignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a parent directory matches
    everything below it."""
    parts = rel.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        rx = _pattern_regex(os.path.normpath(pat[1:] if neg else pat))
        if any(rx.match(c) for c in candidates):
            ignored = not neg
    return ignored


def context_files(context: Path) -> list[str]:
    """Files of the build context after .dockerignore, relative to it."""
    ign = context / ".dockerignore"
    patterns = [l.strip() for l in ign.read_text().splitlines() if l.strip() and not l.strip().startswith("#")] if ign.exists() else []
    out = []
    for dirpath, dirnames, filenames in os.walk(context):
        rel_dir = os.path.relpath(dirpath, context)
        dirnames[:] = [d for d in dirnames if d not in (".git", ".venv", ".state", "node_modules")]
        for f in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, f))
            if not _ignored(rel, patterns):
                out.append(rel)
    return sorted(out)


class Build:
    def __init__(self, dockerfile: Path, context: Path, root: Path, base_python: str, extra_env: dict[str, str] | None = None):
        self.df = parse(dockerfile)
        self.context = context
        self.root = root
        self.base_python = base_python
        self.extra_env = extra_env or {}
        self.log: list[str] = []
        self.files = context_files(context)
        # Stand-in for the base image: `python` on PATH is the host's Python of the same version.
        self.base_bin = root / ".base-image-bin"
        self.base_bin.mkdir(parents=True, exist_ok=True)
        for name in ("python", "python3"):
            link = self.base_bin / name
            if not link.exists():
                link.symlink_to(base_python)

    def _copy(self, srcs: list[str], dst: str, workdir: str, from_stage: str | None) -> None:
        if not dst.startswith("/"):
            dst = os.path.join(workdir, dst)
        if from_stage is not None:
            # Stages share the sandbox root (as they share absolute paths in Docker): a copy of the
            # same path onto itself is the identity.
            for s in srcs:
                if os.path.normpath(s) != os.path.normpath(dst):
                    raise AssertionError(f"COPY --from={from_stage} {s} {dst}: only same-path copies are supported")
            return
        target = Path(map_paths(dst, self.root))
        for s in srcs:
            s = os.path.normpath(s)
            if s in self.files:  # a file: into the directory, or onto the destination name
                pairs = [(s, target / os.path.basename(s) if dst.endswith("/") else target)]
            else:  # a directory: its contents go into the destination
                pairs = [(f, target / os.path.relpath(f, s)) for f in self.files if f.startswith(s + "/")]
            assert pairs, f"COPY {s}: nothing in the build context (after .dockerignore)"
            for f, out in pairs:
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.context / f, out)
        self.log.append(f"COPY {srcs} -> {target}")

    def run(self, target: str, timeout: float = 900) -> Image:
        env: dict[str, str] = {"PATH": f"{self.base_bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        built: dict[str, tuple[dict, str]] = {}
        for stage in self.df.needed(target):
            if stage.base in built:
                env, workdir = dict(built[stage.base][0]), built[stage.base][1]
            else:
                env, workdir = {"PATH": env["PATH"]}, "/"
            args = dict(self.df.global_args)
            for inst in stage.instructions:
                scope = {**args, **env}
                if inst.cmd == "ARG":
                    for k, v in parse_kv(inst.args).items():
                        args[k] = self.df.global_args.get(k, v) if not v else v
                elif inst.cmd == "ENV":
                    for k, v in parse_kv(inst.args).items():
                        env[k] = expand(v, scope)
                        scope[k] = env[k]
                elif inst.cmd == "WORKDIR":
                    workdir = os.path.join(workdir, expand(inst.args, scope))
                    Path(map_paths(workdir, self.root)).mkdir(parents=True, exist_ok=True)
                elif inst.cmd == "COPY":
                    parts = shlex.split(expand(inst.args, scope))
                    self._copy(parts[:-1], parts[-1], workdir, inst.flags.get("from"))
                elif inst.cmd == "RUN":
                    if USER_SETUP.match(inst.args):
                        self.log.append(f"skipped (user setup): {inst.args}")
                        continue
                    host_env = {k: map_paths(v, self.root) for k, v in env.items()}
                    host_env.update(self.extra_env)
                    host_env.setdefault("HOME", os.environ.get("HOME", "/root"))
                    cwd = map_paths(workdir, self.root)
                    r = subprocess.run(["bash", "-euo", "pipefail", "-c", inst.args], cwd=cwd, env=host_env,
                                       capture_output=True, text=True, timeout=timeout)
                    self.log.append(f"RUN (line {inst.line}) rc={r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
                    if r.returncode != 0:
                        raise AssertionError(f"RUN at line {inst.line} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
            built[stage.name] = (env, workdir)
        # USER/LABEL/CMD/ENTRYPOINT/EXPOSE are image metadata, inherited across the target's FROM chain.
        meta = self.df.metadata(target)
        return Image(self.root, dict(env), meta.user, workdir, meta.entrypoint, meta.cmd, meta.exposed, meta.labels)
