"""The exceptions cti raises, one root and one base per layer.

    CtiError
    ├── ConfigError          the configuration file or environment is invalid (names the dotted key)
    ├── StorageError         the database is unreachable, unmigrated or refused a write
    │   └── NotMigratedError the schema is behind the code; `cti db upgrade` fixes it
    ├── AmiError             talking to a PBX failed (see cti.ami.errors for the subclasses)
    ├── SmsError             an SMS gateway refused or failed a message
    ├── ImportRowError       one row of an import file is unusable (line number and reason)
    └── DomainError          a request the domain rules refuse (bad input, unknown id, conflict)
        ├── NotFoundError
        ├── ConflictError
        └── AuthError        wrong credentials, missing session, forbidden role or bad CSRF token

Third-party exceptions are translated to these once, at the adapter that met them. HTTP status codes
exist only in the web layer's mapping (cti.webapp.errors).
"""

from __future__ import annotations


class CtiError(Exception):
    """Root of every error cti raises on purpose."""

    error_id = "cti-error"


class ConfigError(CtiError):
    error_id = "invalid-config"

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class StorageError(CtiError):
    error_id = "storage-error"


class NotMigratedError(StorageError):
    error_id = "database-not-migrated"


class AmiError(CtiError):
    error_id = "pbx-error"


class SmsError(CtiError):
    error_id = "sms-error"


class ImportRowError(CtiError):
    error_id = "invalid-row"

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


class DomainError(CtiError):
    error_id = "invalid-request"

    def __init__(self, message: str, details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class NotFoundError(DomainError):
    error_id = "not-found"


class ConflictError(DomainError):
    error_id = "conflict"


class AuthError(DomainError):
    error_id = "not-authorised"
