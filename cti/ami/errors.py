"""The errors of one PBX link, all under cti.errors.AmiError.

AmiError
├── AmiConnectionLost   the link is down, or dropped while the action was in flight
├── AmiActionTimeout    no complete reply within the action's deadline
├── AmiAuthFailed       the PBX refused our username or secret
├── AmiClosed           the link was closed for good; nothing will be sent again
├── AmiActionFailed     the PBX answered `Response: Error` (carries its `Message`)
└── UnsafeValue         a header we would send holds CR, LF or NUL (header injection)
"""

from __future__ import annotations

from cti.errors import AmiError


class AmiConnectionLost(AmiError):
    error_id = "pbx-connection-lost"


class AmiActionTimeout(AmiError):
    error_id = "pbx-timeout"


class AmiAuthFailed(AmiError):
    error_id = "pbx-auth-failed"


class AmiClosed(AmiError):
    error_id = "pbx-link-closed"


class AmiActionFailed(AmiError):
    error_id = "pbx-action-failed"

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action} failed: {message or 'no message'}")
        self.action = action
        self.message = message


class UnsafeValue(AmiError):
    error_id = "pbx-unsafe-value"
