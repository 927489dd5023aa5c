"""One way to authenticate every Google backend, and one way to build its client.

Credentials are either a service account key file (`GOOGLE_APPLICATION_CREDENTIALS`),
optionally acting as a user of the domain through domain-wide delegation
(`GOOGLE_IMPERSONATE`, or the mailbox a message is sent from), or an OAuth user token file
(an `authorized_user` JSON with a refresh token). google-auth takes the token endpoint from
the file's `token_uri`, which is how tests point it at a local server.

Clients are built offline from the discovery documents shipped in google-api-python-client
(`static_discovery=True`); `GOOGLE_API_BASE_URL` moves every API to another root (a proxy,
a test server). Gmail's service path is empty, Drive's and Calendar's are `drive/v3/` and
`calendar/v3/`, hence `api_endpoint = base + service_path`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.auth.exceptions
import httplib2
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build

from pipeline.config import Settings

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
# Where each API lives below the root (`rootUrl + servicePath` of its discovery document).
SERVICE_PATHS = {
    ("drive", "v3"): "drive/v3/",
    ("gmail", "v1"): "",
    ("calendar", "v3"): "calendar/v3/",
}


class GoogleAuthError(RuntimeError):
    """Credentials missing, unreadable or refused; the message names the variable to fix."""


@dataclass(frozen=True)
class GoogleAuth:
    """Where credentials come from; `variable` names the setting a person would fix."""

    service_account_file: Path | None = None
    oauth_token_file: Path | None = None
    impersonate: str | None = None
    # None: each API at the root its discovery document names (Google's own hosts).
    api_base_url: str | None = None
    service_account_variable: str = "GOOGLE_APPLICATION_CREDENTIALS"
    oauth_token_variable: str = "an OAuth token file"

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        oauth_token_file: Path | None = None,
        oauth_token_variable: str = "an OAuth token file",
    ) -> GoogleAuth:
        """The service account (GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_IMPERSONATE) or, for a
        backend that has one, its OAuth token file; GOOGLE_API_BASE_URL as the root."""
        return cls(
            service_account_file=settings.google_application_credentials,
            oauth_token_file=oauth_token_file,
            impersonate=settings.google_impersonate,
            api_base_url=settings.google_api_base_url,
            oauth_token_variable=oauth_token_variable,
        )

    @property
    def principal(self) -> str:
        """Who the backend acts as, for messages ("share the folder with ...")."""
        if self.service_account_file is not None:
            email = _read_json(self.service_account_file, self.service_account_variable).get(
                "client_email", "the service account"
            )
            return self.impersonate or email
        return "the user of the OAuth token"

    def credentials(self, scopes: list[str], subject: str | None = None) -> Any:
        """google-auth credentials for `scopes`, acting as `subject` (or `impersonate`)."""
        if self.service_account_file is not None:
            info = _read_json(self.service_account_file, self.service_account_variable)
            if info.get("type") != "service_account":
                raise GoogleAuthError(
                    f"{self.service_account_variable}={self.service_account_file}: not a service "
                    f"account key file (type {info.get('type')!r})"
                )
            try:
                creds = service_account.Credentials.from_service_account_info(info, scopes=scopes)
            except (ValueError, KeyError) as exc:
                raise GoogleAuthError(
                    f"{self.service_account_variable}={self.service_account_file}: {exc}"
                ) from None
            who = subject or self.impersonate
            return creds.with_subject(who) if who else creds
        if self.oauth_token_file is not None:
            info = _read_json(self.oauth_token_file, self.oauth_token_variable)
            missing = {"refresh_token", "client_id", "client_secret"} - info.keys()
            if missing:
                raise GoogleAuthError(
                    f"{self.oauth_token_variable}={self.oauth_token_file}: not an OAuth token "
                    f"file (missing {', '.join(sorted(missing))})"
                )
            # Built directly: from_authorized_user_info ignores the file's token_uri, which
            # names the endpoint to refresh at (Google's, or a test server's).
            return user_credentials.Credentials(
                token=None,
                refresh_token=info["refresh_token"],
                token_uri=info.get("token_uri", GOOGLE_TOKEN_URI),
                client_id=info["client_id"],
                client_secret=info["client_secret"],
                scopes=scopes,
                quota_project_id=info.get("quota_project_id"),
            )
        raise GoogleAuthError(
            f"no Google credentials: set {self.service_account_variable} (a service account "
            f"key file) or {self.oauth_token_variable}"
        )

    def client(
        self,
        api: str,
        version: str,
        scopes: list[str],
        *,
        subject: str | None = None,
        timeout: float = 60.0,
    ) -> Any:
        """A google-api-python-client service object, built without fetching discovery."""
        path = SERVICE_PATHS[(api, version)]
        http = AuthorizedHttp(
            self.credentials(scopes, subject), http=httplib2.Http(timeout=timeout)
        )
        options = (
            {"api_endpoint": self.api_base_url.rstrip("/") + "/" + path}
            if self.api_base_url
            else None
        )
        return build(
            api,
            version,
            http=http,
            static_discovery=True,
            cache_discovery=False,
            client_options=options,
        )


def _read_json(path: Path, variable: str) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GoogleAuthError(f"{variable}={path}: no such file") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise GoogleAuthError(f"{variable}={path}: not a readable JSON key file ({exc})") from None


def refused(exc: BaseException) -> bool:
    """Whether an error means the token endpoint refused the credentials."""
    return isinstance(exc, google.auth.exceptions.RefreshError)
