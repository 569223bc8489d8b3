"""Seeds the server Schemathesis tests with what it cannot create through the API alone: a
campaign with a result, clients with activity and open sketches. Prints the shell `export`
line naming an open sketch, which .ci/schemathesis.toml gives to the submission.

Usage: python3 .ci/schemathesis-seed.py API_ADDRESS ADMIN_ADDRESS TOKEN
"""

import json
import sys
import urllib.request
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

api, admin, token = sys.argv[1:4]
LONDON = ZoneInfo("Europe/London")  # the server's default reference time zone


def call(method, url, body=None, private=False):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if private:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None


def millis(local):
    return str(int(local.astimezone(timezone.utc).timestamp() * 1000))


today = datetime.now(LONDON).date()
midnight = datetime(today.year, today.month, today.day, tzinfo=LONDON)
start = (midnight - timedelta(days=3)).isoformat()
campaign = call(
    "POST",
    f"http://{api}/api/campaigns",
    {
        "displayName": "Seeded for Schemathesis",
        "startTime": start,
        "groupSize": 2,
        "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["flu", "fever"]}]},
    },
    private=True,
)
clients = [
    call("POST", f"http://{api}/api/clients", {"publicKey": key, "browser": "chrome"})["name"]
    for key in ("04a1", "04a2", "04a3")
]
for client in clients:
    call("POST", f"http://{api}/api/clients/{client}/ping", {"extensionVersion": "1.0.3"})
tomorrow = midnight + timedelta(days=1)
call("POST", f"http://{admin}/admin/jobs/create-sketches?at={millis(tomorrow.replace(hour=1))}")
commands = [call("GET", f"http://{api}/api/clients/{c}/ping")["submit"][0] for c in clients]
first = commands[0]
call(
    "PATCH",
    f"http://{api}/api/sketches/{first['sketchName']}",
    {"encryptedValues": ["-1", "2", "3"], "rawValues": [1, 0, 0]},
)
after = midnight + timedelta(days=2)
call("POST", f"http://{admin}/admin/jobs/aggregate-sketches?at={millis(after.replace(minute=30))}")
print(f"export PDD_ST_SKETCH={commands[1]['sketchName']}")
