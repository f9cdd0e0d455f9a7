"""A faithful Python stand-in for Metacontroller's CompositeController, for end-to-end tests.

    from tests.metacontroller import Metacontroller, load_controllers
    mc = Metacontroller(kubeconfig, load_controllers("deploy/compositecontroller.yaml")).start()

or `python -m tests.metacontroller --kubeconfig K --controller deploy/compositecontroller.yaml`.
See README.md in this directory for what is and is not reproduced.
"""

from .apply import LAST_APPLIED_ANNOTATION, apply_update, merge
from .controller import Metacontroller, ParentController, gvk_key
from .manifests import CRDS_DIR, load_controllers, rewrite_hook_urls

__all__ = [
    "CRDS_DIR",
    "LAST_APPLIED_ANNOTATION",
    "Metacontroller",
    "ParentController",
    "apply_update",
    "gvk_key",
    "load_controllers",
    "merge",
    "rewrite_hook_urls",
]
