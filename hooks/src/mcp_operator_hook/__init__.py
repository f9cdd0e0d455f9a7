"""Metacontroller sync/finalize hooks for the MCPServer custom resource."""

__version__ = "0.1.0"
