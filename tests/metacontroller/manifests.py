"""Loading CompositeController manifests and pointing their webhooks at a local hook server."""

from __future__ import annotations

import copy
import urllib.parse
from pathlib import Path

import yaml

CRDS_DIR = Path(__file__).resolve().parent / "crds"
# deploy/compositecontroller.yaml writes its webhook URLs as ${HOOK_BASE_URL}/<hook>
PLACEHOLDER = "${HOOK_BASE_URL}"


def load_controllers(path: str | Path) -> list[dict]:
    """All CompositeController documents of a (multi-document) YAML file."""
    with open(path) as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d]
    return [d for d in docs if d.get("kind") == "CompositeController"]


def rewrite_hook_urls(cc: dict, base_url: str) -> dict:
    """A copy of cc whose hooks call base_url + the hook's path instead of the in-cluster Service.

    `webhook.service` + `path`, a full `url`, or `${HOOK_BASE_URL}/path` becomes `url: <base_url><path>`; timeout,
    version and everything else is kept.
    """
    cc = copy.deepcopy(cc)
    base = base_url.rstrip("/")
    for hook in ((cc.get("spec") or {}).get("hooks") or {}).values():
        wh = (hook or {}).get("webhook")
        if not wh:
            continue
        url = wh.get("url")
        if url and PLACEHOLDER in url:
            path = url.split(PLACEHOLDER, 1)[1] or "/"
        elif url:
            path = urllib.parse.urlsplit(url).path
        else:
            path = wh.get("path") or "/"
        wh.pop("service", None)
        wh.pop("path", None)
        wh["url"] = base + path
    return cc
