"""The load, the receiver and the reader of bench/webhook-latency (see run)."""
import datetime
import http.server
import json
import os
import threading
import time
import urllib.request

BASE, TEAM, WRITER, INTEGRATION = (os.environ[k] for k in ("BASE", "TEAM", "WRITER", "INTEGRATION"))
RATE, DURATION, WRITERS = float(os.environ["RATE"]), float(os.environ["DURATION"]), int(os.environ["WRITERS"])


def call(method, path, token, body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def occurred(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


lock = threading.Lock()
webhook = {}   # event id -> receipt - occurred_at (s)
feed = {}      # event id -> answer - occurred_at (s)
writes = []    # request durations (s)
stop = threading.Event()


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        received = time.time()
        data = json.loads(body)["data"]
        if data["type"] == "measurement.recorded":
            with lock:
                webhook.setdefault(data["event_id"], received - occurred(data["occurred_at"]))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
call("POST", "/v1/webhooks", INTEGRATION, {"url": f"http://127.0.0.1:{receiver.server_address[1]}/hook", "event_types": ["measurement.recorded"]})

# The reader starts at the end of the feed.
cursor = call("GET", "/v1/events?limit=200", INTEGRATION)["next_cursor"]
while True:
    page = call("GET", f"/v1/events?limit=200&after={cursor}", INTEGRATION)
    cursor = page["next_cursor"]
    if not page["items"]:
        break


def read_feed():
    global cursor
    while not stop.is_set():
        page = call("GET", f"/v1/events?limit=200&wait=5&after={cursor}", INTEGRATION)
        answered = time.time()
        cursor = page["next_cursor"]
        with lock:
            for item in page["items"]:
                if item["type"] == "measurement.recorded":
                    feed.setdefault(item["event_id"], answered - occurred(item["occurred_at"]))


patients = [call("POST", "/v1/patients", WRITER, {"team_id": TEAM, "mrn": f"WL-{i}", "display_name": f"Latency {i}", "enrolled_on": "2026-09-01"})["id"]
            for i in range(WRITERS * 5)]


def write(index):
    # Each writer paces itself: RATE / WRITERS requests a second, on a fixed schedule.
    interval = WRITERS / RATE
    start = time.time() + index * interval / WRITERS
    n = 0
    while time.time() < started + DURATION:
        due = start + n * interval
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        began = time.time()
        call("POST", f"/v1/patients/{patients[(index * 5 + n) % len(patients)]}/measurements", WRITER, {"instrument": "PHQ-9", "total": n % 28})
        with lock:
            writes.append(time.time() - began)
        n += 1


reader = threading.Thread(target=read_feed, daemon=True)
reader.start()
started = time.time()
threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
# Let the last deliveries and answers arrive.
deadline = time.time() + 15
while time.time() < deadline:
    with lock:
        if len(webhook) >= len(writes) and len(feed) >= len(writes):
            break
    time.sleep(0.1)
stop.set()


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


with lock:
    print(f"{'':34} {'count':>8} {'p50 ms':>10} {'p99 ms':>10}")
    print(f"{'write (baseline: POST answered)':34} {len(writes):8d} {pct(writes, .5):10.2f} {pct(writes, .99):10.2f}")
    print(f"{'webhook (commit to receipt)':34} {len(webhook):8d} {pct(webhook.values(), .5):10.2f} {pct(webhook.values(), .99):10.2f}")
    print(f"{'feed long poll (commit to answer)':34} {len(feed):8d} {pct(feed.values(), .5):10.2f} {pct(feed.values(), .99):10.2f}")
    print(f"({RATE:g} writes/s for {DURATION:g} s by {WRITERS} writers, {os.cpu_count()} cores)")
    missing = len(writes) - len(webhook), len(writes) - len(feed)
    if missing[0] or missing[1]:
        raise SystemExit(f"not every event arrived: {missing[0]} webhooks and {missing[1]} feed items missing")
    print(f"RESULT webhook_p99_ms {pct(webhook.values(), .99):.1f}")
    print(f"RESULT feed_wake_p99_ms {pct(feed.values(), .99):.1f}")
