"""Google APIs (Drive, Gmail, Calendar) on google-api-python-client, sharing one way to get
credentials (`auth.py`) and one API root (`GOOGLE_API_BASE_URL`) that tests point at a
local server."""
