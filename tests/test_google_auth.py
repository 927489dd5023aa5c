"""The shared Google auth helper through google-auth and google-api-python-client, against
a local token endpoint and API root: service account (with delegation) and OAuth token."""

from __future__ import annotations

import pytest

from pipeline.google.auth import GoogleAuth, GoogleAuthError
from tests.fakes.google_api import GoogleApiServer, Reply, google_error

DRIVE = ["https://www.googleapis.com/auth/drive.readonly"]


def _list_files(auth: GoogleAuth, **kwargs) -> dict:
    drive = auth.client("drive", "v3", DRIVE, **kwargs)
    return drive.files().list(pageSize=10).execute()


def test_service_account_with_delegation_reaches_the_api_as_the_user(tmp_path):
    with GoogleApiServer() as google:
        seen: list[str | None] = []

        def files(request, _match):
            seen.append(google.state.subject_of(request))
            return Reply(200, {"files": [{"id": "f1", "name": "leads.csv"}]})

        google.state.route("GET", "/drive/v3/files", files)
        auth = GoogleAuth(
            service_account_file=google.service_account_file(tmp_path),
            impersonate="sales@ourcompany.example",
            api_base_url=google.url,
        )
        assert _list_files(auth)["files"][0]["name"] == "leads.csv"
        assert seen == ["sales@ourcompany.example"]
        assert auth.principal == "sales@ourcompany.example"
        _list_files(auth, subject="ops@ourcompany.example")
        assert seen[-1] == "ops@ourcompany.example"


def test_oauth_token_file_is_refreshed_at_the_files_token_uri(tmp_path):
    with GoogleApiServer() as google:
        google.state.route("GET", "/drive/v3/files", lambda r, m: Reply(200, {"files": []}))
        auth = GoogleAuth(
            oauth_token_file=google.oauth_token_file(tmp_path), api_base_url=google.url
        )
        assert _list_files(auth) == {"files": []}
        assert [r.path for r in google.state.requests] == ["/token", "/drive/v3/files"]


def test_refused_delegation_and_missing_files_say_what_to_fix(tmp_path):
    from google.auth.exceptions import RefreshError

    with GoogleApiServer() as server:
        server.state.allowed_subjects = {"sales@ourcompany.example"}
        auth = GoogleAuth(
            service_account_file=server.service_account_file(tmp_path),
            impersonate="intruder@ourcompany.example",
            api_base_url=server.url,
        )
        with pytest.raises(RefreshError, match="unauthorized_client"):
            _list_files(auth)
    with pytest.raises(GoogleAuthError, match=r"GOOGLE_APPLICATION_CREDENTIALS=.*no such file"):
        GoogleAuth(service_account_file=tmp_path / "nope.json").credentials(DRIVE)
    with pytest.raises(GoogleAuthError, match="no Google credentials: set GOOGLE_APPLICATION_CRED"):
        GoogleAuth().credentials(DRIVE)


def test_api_errors_arrive_in_googles_shape(tmp_path):
    from googleapiclient.errors import HttpError

    with GoogleApiServer() as google:
        google.state.route(
            "GET", "/drive/v3/files", lambda r, m: google_error(403, "rateLimitExceeded", "slow")
        )
        auth = GoogleAuth(
            oauth_token_file=google.oauth_token_file(tmp_path), api_base_url=google.url
        )
        with pytest.raises(HttpError) as exc:
            _list_files(auth)
        assert exc.value.status_code == 403
        assert exc.value.error_details[0]["reason"] == "rateLimitExceeded"
