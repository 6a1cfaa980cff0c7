"""Write load for bench/faults: workers record PHQ-9 scores (item 9 above 0, so each makes two
safety handoffs) through two care-servers, each with its own Idempotency-Key and X-Request-Id,
retrying a write with the same key (on the other server too) until it gets a definitive answer.

Writes one line per write to the results file: key, outcome, measurement id, taken_at.
  outcome: acknowledged (2xx), refused (a 4xx other than 409 in flight), unconfirmable (no
  definitive answer after every retry). Counts 5xx other than 503 separately.
"""
import http.client
import json
import random
import sys
import threading
import time
import uuid

ports = [int(p) for p in sys.argv[1].split(",")]
token, patient, seconds, workers, results_path = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
deadline = time.time() + seconds
lock = threading.Lock()
lines = []
unexpected_5xx = [0]
base = int(time.time()) - 86_400  # taken_at: a distinct second a day ago per write


def attempt(port, key, body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("POST", f"/v1/patients/{patient}/measurements", body=body, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json",
            "Idempotency-Key": key, "X-Request-Id": key})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def worker(number):
    sequence = 0
    while time.time() < deadline:
        sequence += 1
        key = str(uuid.uuid4())
        with lock:
            taken = base + len(lines) * 10 + number
        taken_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(taken))
        body = json.dumps({"instrument": "PHQ-9", "items": [2, 2, 1, 1, 1, 1, 1, 1, 1], "taken_at": taken_at})
        outcome, measurement = "unconfirmable", ""
        for tries in range(60):
            port = ports[(number + tries) % len(ports)]
            try:
                status, data, headers = attempt(port, key, body)
            except Exception:
                time.sleep(0.5)
                continue
            if 200 <= status < 300:
                outcome, measurement = "acknowledged", json.loads(data)["id"]
                break
            if status == 503 or status == 409:
                time.sleep(float(headers.get("Retry-After", "0.5")) if status == 503 else 0.5)
                continue
            if status >= 500:
                with lock:
                    unexpected_5xx[0] += 1
                time.sleep(0.5)
                continue
            outcome = f"refused-{status}"
            break
        with lock:
            lines.append(f"{key} {outcome} {measurement} {taken_at}")


threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with open(results_path, "w") as out:
    out.write("\n".join(lines) + "\n")
print(unexpected_5xx[0])
