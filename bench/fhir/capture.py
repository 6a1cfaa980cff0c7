#!/usr/bin/env python3
"""Turns the statements one API request ran into a pgbench script: "the same SQL".

  capture.py POSTGRES_LOG OFFSET SCRIPT

Reads PostgreSQL's log from byte OFFSET (written with log_statement = 'all' and
log_line_prefix = '@@%p@@ ' while one request ran), keeps the transactions that became care_app
(a request's: the server's own background work never does), puts each statement's parameters
in as literals, and writes the transactions in order, each in one pgbench pipeline: pgbench sends
a transaction's statements at once, where care-server sends them in one to three round trips,
so the baseline is if anything faster than the server could ever be. Prints what it kept.
"""
import re
import sys

log_path, offset, script_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(log_path, "rb") as log:
    log.seek(offset)
    text = log.read().decode("utf-8", "replace")

# Records: a line starting with the prefix, and its continuation lines.
records = []
for line in text.split("\n"):
    match = re.match(r"@@(\d+)@@ (\w+):  (.*)", line)
    if match:
        records.append([match.group(1), match.group(2), match.group(3)])
    elif records and line.startswith("\t"):
        records[-1][2] += "\n" + line[1:]

# Statements by backend, with their parameters put in.
by_pid = {}
for index, (pid, level, message) in enumerate(records):
    if level != "LOG":
        continue
    match = re.match(r"(?:statement|execute [^:]+): (.*)", message, re.S)
    if not match:
        continue
    sql = match.group(1).strip()
    detail = records[index + 1] if index + 1 < len(records) else None
    if detail and detail[0] == pid and detail[1] == "DETAIL" and detail[2].startswith("parameters: "):
        values = {int(n): v for n, v in re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", detail[2], re.S)}
        sql = re.sub(r"\$(\d+)", lambda m: values[int(m.group(1))], sql)
    by_pid.setdefault(pid, []).append(sql)

transactions = []
for pid, statements in by_pid.items():
    current = None
    for sql in statements:
        head = sql.split(None, 1)[0].upper() if sql.split() else ""
        if head in ("BEGIN", "START"):
            current = [sql]
        elif current is not None:
            current.append(sql)
            if head in ("COMMIT", "ROLLBACK", "END"):
                if any("'care_app'" in s for s in current):
                    transactions.append(current)
                current = None

if not transactions:
    sys.exit("capture.py: no request transaction in the log (was log_statement on?)")
with open(script_path, "w") as script:
    script.write("-- Captured from one request by bench/fhir/capture.py: the statements care-server ran.\n")
    for transaction in transactions:
        script.write("\\startpipeline\n")
        for sql in transaction:
            script.write(sql.rstrip(";") + ";\n")
        script.write("\\endpipeline\n")
print(f"{len(transactions)} transactions, {sum(len(t) for t in transactions)} statements")
