#!/usr/bin/env python3
"""Renders bench/work/results.tsv (written by run.sh) as Markdown, checks
the targets, prints it and writes it to --out.

results.tsv columns: id, race, tool, signatures, wall s, peak RSS KiB,
hit files, detections, peer id ('-' for a baseline row).
"""
import argparse


def main():
    ap = argparse.ArgumentParser()
    for k in ("results", "startup", "cpu", "size-matches", "race-a-sets", "common",
              "sigbase-rev", "td-sigs", "contended", "versions", "out"):
        ap.add_argument("--" + k, required=True)
    for k in ("bytes", "files", "nproc", "threads"):
        ap.add_argument("--" + k, type=int, required=True)
    a = ap.parse_args()

    rows = {}
    order = []
    for line in open(a.results):
        f = line.rstrip("\n").split("\t")
        rid, race, tool, sigs, wall, rss, nfiles, dets, peer = f
        rows[rid] = dict(race=race, tool=tool, sigs=sigs, wall=float(wall),
                         rss=int(rss), files=int(nfiles), dets=int(dets), peer=peer)
        order.append(rid)

    mb = a.bytes / 1e6
    out = []
    out.append("# takedown benchmark\n")
    out.append(f"- machine: {a.nproc} cores, {a.cpu}; every tool given {a.threads} threads "
               "(clamscan is single-threaded)")
    out.append(f"- corpus: {a.files} files, {mb:,.0f} MB ({a.bytes} bytes), page cache warm for every run")
    out.append(f"- versions: {a.versions}")
    out.append(f"- another compiler running during timed runs: {a.contended}")
    out.append(f"- signature-base {a.sigbase_rev[:12]}; YARA files: {a.common}")
    out.append(f"- takedown's view of the race-B signature set: {a.td_sigs}")
    out.append("")
    out.append("| race | tool | signatures | wall s | MB/s | peak RSS MB | hits (files / detections) | ratio vs peer |")
    out.append("|---|---|---|---:|---:|---:|---:|---|")

    def short(rid):
        return rows[rid]["tool"].split()[0]

    for rid in order:
        r = rows[rid]
        ratio = "(baseline)"
        if r["peer"] != "-":
            p = rows[r["peer"]]
            ratio = (f"{short(r['peer'])}/takedown = {p['wall'] / r['wall']:.1f}x wall, "
                     f"{p['rss'] / r['rss']:.2f}x RSS")
        elif r["race"] == "B" and "takedown-yara" in rows and rid != "takedown-yara":
            t = rows["takedown-yara"]
            ratio = f"{short(rid)}/takedown = {r['wall'] / t['wall']:.2f}x wall, {r['rss'] / t['rss']:.2f}x RSS"
        out.append(f"| {r['race']} | {r['tool']} | {r['sigs']} | {r['wall']:.2f} | "
                   f"{mb / r['wall']:.0f} | {r['rss'] / 1024:.0f} | "
                   f"{r['files']} / {r['dets']} | {ratio} |")
    out.append("")
    out.append(f"Race A hit files: {a.race_a_sets}")
    out.append(f"Race A: corpus files whose size matches some .hsb IOC (hashed by size-gated scanners): {a.size_matches}")
    out.append("")
    out.append("| start-up (empty directory, signature-base set) | wall s | peak RSS MB |")
    out.append("|---|---:|---:|")
    st = []
    for line in open(a.startup):
        what, wall, rss = line.rstrip("\n").split("\t")
        st.append((what, float(wall), int(rss)))
        out.append(f"| {what} | {float(wall):.2f} | {int(rss) / 1024:.0f} |")
    out.append("")

    checks = []
    def check(name, ok, detail):
        checks.append(f"- [{'x' if ok else ' '}] {name}: {detail}{'' if ok else '  **MISSED**'}")
    c, h, l = rows.get("clamscan-hsb"), rows.get("takedown-hsb"), rows.get("takedown-loki")
    if c and h:
        check("takedown .hsb >= 20x faster than clamscan", c["wall"] / h["wall"] >= 20,
              f"{c['wall'] / h['wall']:.1f}x")
    if c and l:
        check("takedown Loki hash file >= 5x faster than clamscan", c["wall"] / l["wall"] >= 5,
              f"{c['wall'] / l['wall']:.1f}x")
    y, t = rows.get("yr"), rows.get("takedown-yara")
    if y and t:
        check("takedown YARA race no slower than yr", t["wall"] <= y["wall"],
              f"takedown {t['wall']:.2f} s vs yr {y['wall']:.2f} s")
        check("takedown peak RSS no higher than yr's", t["rss"] <= y["rss"],
              f"takedown {t['rss'] / 1024:.0f} MB vs yr {y['rss'] / 1024:.0f} MB")
    warm = [s for s in st if s[0].startswith("takedown, warm")]
    if warm:
        check("takedown warm start-up well under 1 s", warm[0][1] < 1.0, f"{warm[0][1]:.2f} s")
    out.append("Targets:")
    out.extend(checks)
    out.append("")
    text = "\n".join(out)
    print(text)
    with open(a.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
