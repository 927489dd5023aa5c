"""Google Drive as the lead source (LEADS_SOURCE=drive), on google-api-python-client.

api.py       the Drive API with retries (429/5xx/rate-limit 403 with backoff honouring
             Retry-After) and errors that say what to do
items.py     a Drive file as the pipeline sees it: lead files, content identity
listing.py   listing the watched folders, subfolders included, page by page
tree.py      the watched tree in the operational store (where a change lies; what was removed)
changes.py   the change feed from a cursor of page tokens (first read: a full listing)
source.py    the lead source: list a day, read changes, land a file's bytes (streamed)
channels.py  push channels (changes.watch / channels.stop) and their renewal
check.py     `python -m pipeline drive check`
cli.py       `python -m pipeline drive check | watch | unwatch | channels`

No Dagster here: the resource (resources/lead_source.py), the sensor (sensors/file_arrival.py)
and the renewal schedule (schedules/drive_channels.py) are thin layers over these modules.
"""
