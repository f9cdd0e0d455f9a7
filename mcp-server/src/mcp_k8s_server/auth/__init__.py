"""Per-caller identity: who may call this server, and as whom it calls the Kubernetes API.

- ``settings``: checks and derived values of MCP_AUTH_* / MCP_OIDC_*;
- ``caller``: the verified Caller, its context binding and the impersonating ApiClient;
- ``reviews``: TokenReview and SelfSubjectAccessReview calls (the Kubernetes adapter for auth);
- ``tokenreview`` / ``oidc``: the two TokenVerifiers (SDK protocol), with a bounded review cache;
- ``challenge``: 401 answers that say why (missing, expired, wrong audience, unknown token);
- ``setup``: what ``server.build`` hands the SDK (token_verifier, AuthSettings).

Kept import-light: ``kube`` imports ``caller``.
"""
