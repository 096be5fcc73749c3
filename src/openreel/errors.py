"""Errors a user can cause, and how they map to exit codes and HTTP statuses.

A user mistake is an `InvalidInput` naming the field and the limit; the CLI prints its message
(no traceback) and exits with its code; the server answers 4xx with the same message and field.
"""

from __future__ import annotations


class OpenReelError(Exception):
    """Base class of OpenReel's expected errors."""

    exit_code = 1


class InvalidInput(OpenReelError, ValueError):
    """A request or setting outside what the model or the configured limits allow."""

    exit_code = 2

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class ModelNotFound(InvalidInput):
    """`--model` names neither a model folder nor a preset."""


class Cancelled(OpenReelError):
    """The caller cancelled a generation (cancel event set, or Ctrl-C)."""

    exit_code = 130


class PolicyViolation(InvalidInput):
    """A prompt refused by the content policy; `category` names the rule (HTTP 400, policy_violation)."""

    def __init__(self, field: str, category: str, message: str):
        self.category = category
        super().__init__(field, message)
