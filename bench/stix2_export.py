#!/usr/bin/env python3
"""The peer of race 1 in bench/intel.sh: the OASIS `stix2` library building
the objects `takedown intel export --format stix` writes for the same
findings, then serializing the bundle to a file.

    stix2_export.py FINDINGS.ndjson OUT.json

Read with the standard json module and folded per distinct SHA-256, as
takedown does (smallest file name and size, detection names and families,
at most 16 of each, count and hosts); then, with stix2 objects: the TLP 2.0
amber marking-definition, the producer's identity (organization), one
identity per host (system), one malware (family) per family, and per
content a file (hashes, size, name; stix2 computes its deterministic id),
an observed-data per host, an indicator ([file:hashes.'SHA-256' = '...']),
an `indicates` relationship per family and a sighting; last a report over
everything, and the bundle, written with `fp_serialize`. Ids of the other
objects are UUIDv4-shaped digests of stable keys, as takedown's (same
findings, same ids).
Prints one JSON line: findings read and objects written.
"""
import datetime as dt
import hashlib
import json
import sys
import uuid

import stix2

TLP_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
MAX = 16


def sid(kind, key):
    # A version-4-shaped UUID from a digest of the key (what takedown does:
    # stix2-validator --strict wants UUIDv4 ids, and re-exports must keep
    # them).
    d = bytearray(hashlib.sha256(b"bench\0" + kind.encode() + b"\0" + key.encode()).digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x40
    d[8] = (d[8] & 0x3F) | 0x80
    return f"{kind}--{uuid.UUID(bytes=bytes(d))}"


def family(d):
    m = d.get("metadata") or {}
    for k in ("malware_family", "malware", "family"):
        v = m.get(k)
        if isinstance(v, str):
            return v
    return None


def capped(s, v):
    if v and len(s) < MAX:
        s.add(v)


def main():
    src, out = sys.argv[1], sys.argv[2]
    files = {}
    findings = 0
    host, start, end = "(unknown host)", None, None
    with open(src) as f:
        for line in f:
            r = json.loads(line)
            if r.get("type") == "summary":
                host = r.get("host") or host
                if r.get("started"):
                    start = dt.datetime.fromisoformat(r["started"].replace("Z", "+00:00"))
                    end = start + dt.timedelta(seconds=r.get("elapsed_seconds", 0))
                continue
            findings += 1
            sha = r.get("sha256")
            if not r.get("detections") or not sha:
                continue
            fa = files.get(sha)
            if fa is None:
                fa = files[sha] = {"name": None, "size": None, "names": set(), "families": set(), "count": 0}
            fa["count"] += 1
            name = (r.get("chain") or [r["path"]])[-1].rsplit("/", 1)[-1]
            if name and (fa["name"] is None or name < fa["name"]):
                fa["name"] = name
            if r.get("size") is not None:
                fa["size"] = r["size"] if fa["size"] is None else min(fa["size"], r["size"])
            for d in r["detections"]:
                capped(fa["names"], d.get("name"))
                capped(fa["families"], family(d))
    now = dt.datetime.now(dt.timezone.utc)
    start = start or now
    end = end or now
    marking = [TLP_AMBER]

    objs = [stix2.MarkingDefinition(
        id=TLP_AMBER, created="2022-10-01T00:00:00.000Z",
        created_by_ref="identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01", name="TLP:AMBER",
        extensions={"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
                    {"extension_type": "property-extension", "tlp_2_0": "amber"}})]
    producer = stix2.Identity(id=sid("identity", "producer\0takedown"), name="takedown",
                              identity_class="organization", created=start, modified=end,
                              object_marking_refs=marking)
    host_identity = stix2.Identity(id=sid("identity", "host\0" + host), name=host,
                                   identity_class="system", created=start, modified=end,
                                   created_by_ref=producer.id, object_marking_refs=marking)
    objs += [producer, host_identity]
    common = dict(created_by_ref=producer.id, created=start, modified=end, object_marking_refs=marking)
    malware = {}
    for fa in files.values():
        for fam in fa["families"]:
            if fam not in malware:
                malware[fam] = stix2.Malware(id=sid("malware", fam), name=fam, is_family=True, **common)
    objs += [malware[k] for k in sorted(malware)]
    for sha in sorted(files):
        fa = files[sha]
        fobj = stix2.File(hashes={"SHA-256": sha}, size=fa["size"], name=fa["name"],
                          object_marking_refs=marking)
        od = stix2.ObservedData(id=sid("observed-data", host + "\0" + sha), first_observed=start,
                                last_observed=end, number_observed=fa["count"],
                                object_refs=[fobj.id], **common)
        ind = stix2.Indicator(id=sid("indicator", "file:hashes.'SHA-256'\0" + sha),
                              name=", ".join(sorted(fa["names"])) or "takedown detection",
                              description=f"File content detected by takedown {fa['count']} time(s) on 1 host(s).",
                              indicator_types=["malicious-activity"],
                              pattern=f"[file:hashes.'SHA-256' = '{sha}']", pattern_type="stix",
                              pattern_version="2.1", valid_from=start, **common)
        objs += [fobj, od, ind]
        for fam in sorted(fa["families"]):
            objs.append(stix2.Relationship(id=sid("relationship", f"indicates\0{sha}\0{fam}"),
                                           relationship_type="indicates", source_ref=ind.id,
                                           target_ref=malware[fam].id, **common))
        objs.append(stix2.Sighting(id=sid("sighting", sha), sighting_of_ref=ind.id, count=fa["count"],
                                   first_seen=start, last_seen=end, observed_data_refs=[od.id],
                                   where_sighted_refs=[host_identity.id], **common))
    objs.append(stix2.Report(id=sid("report", f"takedown\0{host}\0{start.isoformat()}"),
                             name="takedown findings",
                             description=f"takedown findings: {len(files)} detected file content(s).",
                             report_types=["indicator", "observed-data"], published=end,
                             object_refs=[o.id for o in objs[1:]], **common))
    bundle = stix2.Bundle(objects=objs, allow_custom=False)
    with open(out, "w") as f:
        bundle.fp_serialize(f)
    print(json.dumps({"findings": findings, "objects": len(objs)}))


if __name__ == "__main__":
    main()
