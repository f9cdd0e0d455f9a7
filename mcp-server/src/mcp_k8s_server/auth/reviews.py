"""The Kubernetes calls of the identity layer, through the one adapter (``kube.Kube.request``):
TokenReview (as this server: made outside any MCP message, so nothing is impersonated) and
SelfSubjectAccessReview (as the bound caller). Each returns the review's ``status``.
"""

from __future__ import annotations

from typing import Any

from ..kube import Kube, Op


async def token_review(kube: Kube, token: str, audiences: list[str]) -> dict[str, Any]:
    """POST authentication.k8s.io/v1 TokenReview; needs ``create`` on ``tokenreviews``.

    The token goes only into this request body (never a header of ours, never a log line).
    """
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, "audiences": list(audiences)}}
    data = await kube.request(Op("create", "tokenreviews"), "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body=body)
    return data.get("status") or {}


async def self_subject_access_review(kube: Kube, attributes: dict[str, Any], non_resource: bool = False) -> dict[str, Any]:
    """POST authorization.k8s.io/v1 SelfSubjectAccessReview as the bound caller.

    Every authenticated user may create one (the built-in ``system:basic-user`` role), so the
    server needs no RBAC for it beyond impersonating the caller.
    """
    key = "nonResourceAttributes" if non_resource else "resourceAttributes"
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {key: attributes}}
    op = Op("create", "selfsubjectaccessreviews")
    data = await kube.request(op, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=body)
    return data.get("status") or {}
