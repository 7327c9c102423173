#!/usr/bin/env python3
"""IntelMQ's side of bench/notify.sh: its own bots, driven in one process.

    intelmq_pipeline.py IPASN_DAT OUT_FILE MAX_EVENTS REPORT.csv.gz...

The pipeline a CERT runs for Shadowserver reports, minus the collector:
IntelMQ's Shadowserver parser bot (intelmq.bots.parsers.shadowserver)
turns the CSV rows into events, its ASN lookup expert bot
(intelmq.bots.experts.asn_lookup, pyasn over IPASN_DAT, the same file
takedown reads: pyasn's .dat is that text format) adds source.asn and
source.network (and destination.*), and its file output bot
(intelmq.bots.outputs.file) writes them as JSON lines to OUT_FILE.

The bots run as libraries (IntelMQ's BotLibSettings: no Redis, no
intelmqctl), each report chunk passed from one bot to the next in memory.
This favours IntelMQ: a real deployment runs each bot as its own process
with the messages serialised through Redis queues between them, which
costs more per event than what is measured here.

The reports are read in the order given; rows are handed to the parser in
reports of 10,000 rows (with the header), which keeps memory bounded; at
most MAX_EVENTS rows are processed (IntelMQ is slow: the benchmark times
a prefix of the data and compares events per second). Prints one JSON
line: rows read, events parsed, looked up and written, failures, and the
seconds of each stage.
"""
import base64
import gzip
import json
import os
import sys
import time

t_start = time.monotonic()
from intelmq.lib.bot import BotLibSettings  # noqa: E402
from intelmq.bots.parsers.shadowserver.parser import ShadowserverParserBot  # noqa: E402
from intelmq.bots.experts.asn_lookup.expert import ASNLookupExpertBot  # noqa: E402
from intelmq.bots.outputs.file.output import FileOutputBot  # noqa: E402

CHUNK = 10_000
ipasn, out_file, max_events = sys.argv[1], sys.argv[2], int(sys.argv[3])
reports = sys.argv[4:]


def bot(cls, name, **settings):
    b = cls(name, settings=BotLibSettings | {"logging_level": "ERROR"} | settings)
    # No statistics to a Redis server.
    b._Bot__stats_cache = None
    return b


t0 = time.monotonic()
# The parser downloads Shadowserver's schema on first use unless it has
# one: it is given the schema at SHADOWSERVER_SCHEMA (Shadowserver's
# current entries, the notify tests' data) in test mode.
import intelmq.bots.parsers.shadowserver._config as ssconf  # noqa: E402
getattr(ssconf, "__config").schema_base = os.environ["SHADOWSERVER_SCHEMA"]
parser = bot(ShadowserverParserBot, "parser", test_mode=True)
expert = bot(ASNLookupExpertBot, "asn-lookup", database=ipasn)
output = bot(FileOutputBot, "file-output", file=out_file, hierarchical_output=False)
t_init = time.monotonic() - t0

stats = {"rows": 0, "parsed": 0, "failed": 0, "looked_up": 0, "with_asn": 0, "written": 0}
seconds = {"parse": 0.0, "lookup": 0.0, "output": 0.0, "read": 0.0}


def run_chunk(name, header, rows):
    t = time.monotonic()
    raw = base64.b64encode(header + b"".join(rows)).decode()
    seconds["read"] += time.monotonic() - t
    t = time.monotonic()
    q = parser.process_message({"__type": "Report", "raw": raw, "feed.name": "Shadowserver",
                                "extra.file_name": name})
    events = q["output"]
    stats["failed"] += len(q.get("error", []))
    stats["parsed"] += len(events)
    t2 = time.monotonic()
    seconds["parse"] += t2 - t
    q = expert.process_message(*events)
    events = q["output"]
    stats["looked_up"] += len(events)
    stats["with_asn"] += sum(1 for e in events if "source.asn" in e)
    t3 = time.monotonic()
    seconds["lookup"] += t3 - t2
    output.process_message(*events)
    stats["written"] += len(events)
    seconds["output"] += time.monotonic() - t3


left = max_events
for path in reports:
    if left <= 0:
        break
    t = time.monotonic()
    # IntelMQ's collectors hand the parser the decompressed file, named
    # without .gz.
    name = os.path.basename(path)[:-3] if path.endswith(".gz") else os.path.basename(path)
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        header = f.readline()
        rows = []
        seconds["read"] += time.monotonic() - t
        for line in f:
            rows.append(line)
            stats["rows"] += 1
            left -= 1
            if len(rows) == CHUNK or left == 0:
                run_chunk(name, header, rows)
                rows = []
            if left == 0:
                break
        if rows:
            run_chunk(name, header, rows)
output.shutdown()
print(json.dumps({"stats": stats, "seconds": {k: round(v, 2) for k, v in seconds.items()},
                  "init_seconds": round(t_init, 2), "total_seconds": round(time.monotonic() - t_start, 2)}))
sys.stdout.flush()
# Skip the bots' shutdown hooks (they would report to Redis).
os._exit(0)
