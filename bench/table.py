#!/usr/bin/env python3
"""Renders bench/work/results.tsv (written by run.sh) as Markdown, checks
the targets, prints it and writes it to --out.

results.tsv columns: id, race, tool, signatures, median wall s, median peak
RSS KiB, hit files, detections, peer ids (comma-separated, '-' for none),
every run ("wall s/RSS MB" pairs).
"""
import argparse


def main():
    ap = argparse.ArgumentParser()
    for k in ("results", "startup", "cpu", "size-matches", "race-a-sets", "common",
              "sigbase-rev", "td-sigs", "contended", "load", "versions", "out"):
        ap.add_argument("--" + k, required=True)
    for k in ("bytes", "files", "nproc", "threads", "runs"):
        ap.add_argument("--" + k, type=int, required=True)
    a = ap.parse_args()

    rows, order = {}, []
    for line in open(a.results):
        rid, race, tool, sigs, wall, rss, nfiles, dets, peers, runlog = line.rstrip("\n").split("\t")
        rows[rid] = dict(race=race, tool=tool, sigs=sigs, wall=float(wall), rss=int(rss),
                         files=int(nfiles), dets=int(dets),
                         peers=[] if peers == "-" else peers.split(","), runlog=runlog)
        order.append(rid)

    mb = a.bytes / 1e6
    out = ["# takedown benchmark", ""]
    out.append(f"- machine: nproc {a.nproc}, {a.cpu}; load average at start {a.load}; "
               f"takedown, yr and yara given {a.threads} threads (clamscan is single-threaded)")
    out.append(f"- corpus: {a.files} files, {mb:,.0f} MB ({a.bytes} bytes); page cache warmed "
               f"before every timed run; {a.runs} interleaved runs per tool, medians shown")
    out.append(f"- versions: {a.versions}")
    out.append(f"- contention: before each timed run the script waits for idle CPUs; runs that still saw "
               f"foreign CPU time > 5% were retried (2x at most); runs still contended: {a.contended}")
    out.append(f"- signature-base {a.sigbase_rev[:12]}, YARA files: {a.common}")
    out.append(f"- takedown's count of the race-B set: {a.td_sigs}")
    out.append("")
    out.append("| race | tool | signatures | wall s | MB/s | peak RSS MB | hits (files / detections) | ratio vs peer |")
    out.append("|---|---|---|---:|---:|---:|---:|---|")

    def short(rid):
        return rows[rid]["tool"].split()[0]

    for rid in order:
        r = rows[rid]
        ratios = []
        for p in r["peers"]:
            q = rows[p]
            if r["tool"].startswith("takedown"):
                ratios.append(f"{short(p)}/takedown = {q['wall'] / r['wall']:.2f}x wall, "
                              f"{q['rss'] / r['rss']:.2f}x RSS")
            else:
                ratios.append(f"{short(rid)}/takedown = {r['wall'] / q['wall']:.2f}x wall, "
                              f"{r['rss'] / q['rss']:.2f}x RSS")
        out.append(f"| {r['race']} | {r['tool']} | {r['sigs']} | {r['wall']:.2f} | "
                   f"{mb / r['wall']:.0f} | {r['rss'] / 1024:.0f} | {r['files']} / {r['dets']} | "
                   f"{'; '.join(ratios) or '(baseline)'} |")
    out.append("")
    out.append("MB = 10^6 bytes of corpus per second of wall time; peak RSS in MiB (GNU time %M).")
    out.append("")
    out.append("Every run (wall / peak RSS):")
    for rid in order:
        out.append(f"- {rows[rid]['race']} {rows[rid]['tool']}, {rows[rid]['sigs']}: {rows[rid]['runlog']}")
    out.append("")
    out.append(f"Race A hit files: {a.race_a_sets}")
    out.append("")
    out.append(f"Race A: corpus files whose size equals some .hsb IOC's size: {a.size_matches}")
    out.append("")
    out.append("| start-up on an empty directory, race-B signature set | wall s | peak RSS MB |")
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

    c, h, l = rows.get("clamscan_hsb"), rows.get("takedown_hsb"), rows.get("takedown_loki")
    if c and h:
        check("takedown with .hsb >= 20x faster than clamscan", c["wall"] / h["wall"] >= 20,
              f"{c['wall'] / h['wall']:.1f}x")
    if c and l:
        check("takedown with the Loki hash file >= 5x faster than clamscan",
              c["wall"] / l["wall"] >= 5, f"{c['wall'] / l['wall']:.1f}x")
    y, t = rows.get("yr"), rows.get("takedown_yara")
    if y and t:
        check("takedown (YARA + hash + name IOCs) no slower than yr", t["wall"] <= y["wall"],
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
