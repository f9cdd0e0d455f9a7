"""Errors the hook distinguishes."""


class BadRequest(Exception):
    """The hook request itself is malformed (not a Metacontroller request).

    The HTTP layer answers 400 with ``{"error": message}``; Metacontroller then changes nothing
    and retries with backoff. Never raised for an invalid *spec*: that is a valid request whose
    answer is a Failed status.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
