"""Kubernetes credentials, in kubectl's order: the ``kubernetes`` package's loaders (kubeconfig with
exec plugins, in-cluster token refresh) behind one function.

Its own module so that importing the server does not import ``kubernetes`` (and with it
requests/oauthlib/yaml/urllib3: ~0.1-0.2 s of a cold start): ``kube.Kube`` imports this on the
first call that needs credentials, and a server answers initialize/tools/list without it.
"""

from __future__ import annotations

import copy
import os
import ssl
from collections.abc import Mapping

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config import kube_config as k8s_kube_config
from kubernetes.config.config_exception import ConfigException

from .kube import KubeUnavailable


class _FirstWinsMerger(k8s_kube_config.KubeConfigMerger):
    """kubectl's merge of a KUBECONFIG list: the first file to set a value wins, including
    current-context (the client library lets the last one win), and empty files are skipped
    (kubectl ignores them; the library raises). Source of the rule: kubectl's
    ``clientcmd.ClientConfigLoadingRules.Load`` ("the first file to set a particular map key wins")."""

    def load_config(self, path: str) -> None:
        with open(path) as f:
            config = yaml.safe_load(f)
        if not config:
            return
        if self.config_merged is None:
            merged = copy.deepcopy(config)
            merged.pop("current-context", None)
            for item in ("clusters", "contexts", "users"):
                merged[item] = []
            self.config_merged = k8s_kube_config.ConfigNode(path, merged, path)
        for item in ("clusters", "contexts", "users"):
            self._merge(item, config.get(item, []) or [], path)
        if config.get("current-context") and not self.config_merged.value.get("current-context"):
            self.config_merged.value["current-context"] = config["current-context"]
        self.config_files[path] = config


def load_configuration(kubeconfig: str | None = None, environ: Mapping[str, str] | None = None) -> tuple[k8s.Configuration, str]:
    """(client Configuration, where it came from), in kubectl's precedence; KubeUnavailable if none.

    ``kubeconfig`` (or KUBECONFIG) may list several files separated by ``os.pathsep``.
    """
    env = os.environ if environ is None else environ
    cfg = k8s.Configuration()
    explicit = kubeconfig or env.get("KUBECONFIG") or None
    try:
        if explicit:
            paths = [p for p in explicit.split(os.pathsep) if p]
            found = [p for p in paths if os.path.exists(os.path.expanduser(p))]
            if not found:
                raise KubeUnavailable(
                    f"No Kubernetes credentials: KUBECONFIG={explicit!r} names no existing file. "
                    "Point it at a kubeconfig (several files separated by ':' are merged like kubectl)."
                )
            merger = _FirstWinsMerger(explicit)
            if merger.config is None:
                raise KubeUnavailable(f"No Kubernetes credentials: the kubeconfig files {found} are empty.")
            k8s_kube_config.KubeConfigLoader(config_dict=merger.config, config_base_path=None).load_and_set(cfg)
            return cfg, f"kubeconfig {':'.join(found)}"
        if env.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=cfg)
            return cfg, "in-cluster"
        default = os.path.expanduser("~/.kube/config")
        if not os.path.exists(default):
            raise KubeUnavailable(
                "No Kubernetes credentials: KUBECONFIG is not set, this is not a pod (no "
                "KUBERNETES_SERVICE_HOST) and ~/.kube/config does not exist."
            )
        k8s_config.load_kube_config(config_file=default, client_configuration=cfg, persist_config=False)
        return cfg, "kubeconfig ~/.kube/config"
    except KubeUnavailable:
        raise
    except (ConfigException, OSError, TypeError, ValueError, KeyError, yaml.YAMLError) as exc:
        where = f"KUBECONFIG={explicit!r}" if explicit else "in-cluster service account" if env.get("KUBERNETES_SERVICE_HOST") else "~/.kube/config"
        raise KubeUnavailable(f"No usable Kubernetes credentials from {where}: " + str(exc).splitlines()[0][:200]) from None


def ssl_context(cfg: k8s.Configuration) -> ssl.SSLContext | bool:
    if not cfg.host.startswith("https"):
        return False
    ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert) if cfg.ssl_ca_cert else ssl.create_default_context()
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    if not cfg.verify_ssl:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
