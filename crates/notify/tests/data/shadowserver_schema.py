#!/usr/bin/env python3
"""Writes the Shadowserver column mappings the IntelMQ oracle test
(tests/intelmq_oracle.rs) gives IntelMQ's Shadowserver parser.

    shadowserver_schema.py REPORT_SCHEMA_INTELMQ_JSON INTELMQ_3_0_2_CONFIG_PY OUTDIR

* REPORT_SCHEMA_INTELMQ_JSON: `intelmq.json` of Shadowserver's
  github.com/The-Shadowserver-Foundation/report_schema (the schema IntelMQ
  downloads from https://interchange.shadowserver.org/intelmq/v1/schema);
  the entries of the current sinkhole reports are kept as they are.
* INTELMQ_3_0_2_CONFIG_PY: `intelmq/bots/parsers/shadowserver/_config.py`
  of IntelMQ 3.0.2 (github.com/certtools/intelmq, tag 3.0.2), the last
  release with built-in mappings, which alone has the retired reports
  (botnet_drone, sinkhole_http_drone, sinkhole6_http, sinkhole_dns); its
  Python tuples are written in the schema's JSON form (conversion
  functions by name). It is imported, so run this with a Python that has
  intelmq installed.

Output is sorted and indented: the same inputs give the same bytes.
"""
import importlib.util
import json
import os
import sys

CURRENT = ["_meta", "event_sinkhole", "event6_sinkhole", "event_sinkhole_http", "event_sinkhole_dns"]
LEGACY = ["botnet_drone", "sinkhole_http_drone", "sinkhole6_http", "sinkhole_dns"]


def fields(items):
    out = []
    for item in items:
        item = list(item)
        if len(item) > 2 and item[2] is not None:
            item[2] = item[2].__name__
        out.append(item)
    return out


def main():
    schema_json, config_py, outdir = sys.argv[1:4]
    with open(schema_json) as f:
        schema = json.load(f)
    with open(os.path.join(outdir, "shadowserver-schema.json"), "w") as f:
        json.dump({k: schema[k] for k in CURRENT}, f, indent=1, sort_keys=True)

    spec = importlib.util.spec_from_file_location("intelmq_3_0_2_shadowserver_config", config_py)
    config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(config)
    legacy = {}
    for feed, file_name, conf in config.mapping:
        if file_name in LEGACY and file_name not in legacy:
            legacy[file_name] = {
                "feed_name": feed,
                "file_name": file_name,
                "required_fields": fields(conf["required_fields"]),
                "optional_fields": fields(conf["optional_fields"]),
                "constant_fields": conf.get("constant_fields", {}),
            }
    with open(os.path.join(outdir, "intelmq-3.0.2-legacy-schema.json"), "w") as f:
        json.dump(legacy, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
