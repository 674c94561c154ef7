#!/usr/bin/env python3
"""Choose the shipped routers by the selection rule of docs/TRAINING.md, on the validation
suite alone (no benchmark figure is read).

    python3 tools/select_routers.py [--json FILE] [--write]

Without --json it runs `build/routellm validate --format json` on the default suite (an hour or
so from nothing on two cores; trained routers and scores are cached) and keeps the document in
.cache/select/validate.json. It prints every candidate's figures as Markdown tables for
docs/TRAINING.md (overall, then per held-out source) and the choice; --write records the choice
in data/suite/shipped.json, which `make routers` (tools/make_routers.sh) reads.

The rule: per kind, the first candidate the suite lists is the baseline; another replaces it only
if its mean APGR exceeds the baseline's by more than two standard errors of the paired
difference (the SD of the difference over the suite's bootstrap resamples); the highest such
candidate ships. The recommended router (recorded by its kind, the name `--router` takes) is the
shipped one with the highest mean APGR if it beats `length` by more than two standard errors of
that paired difference, else `length`.
Standard library only.
"""
import argparse
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(args):
    if args.json:
        with open(args.json) as f:
            return json.load(f)
    out = os.path.join(ROOT, ".cache", "select", "validate.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = [os.path.join(ROOT, "build", "routellm"), "validate", "--format", "json"]
    print("select_routers: " + " ".join(cmd), file=sys.stderr, flush=True)
    with open(out, "w") as f:
        subprocess.run(cmd, check=True, stdout=f)
    with open(out) as f:
        return json.load(f)


def paired(doc, a, b):
    """Mean difference of APGR a - b over the evaluations both have, and its bootstrap SE."""
    diffs = [e["results"][a]["apgr"] - e["results"][b]["apgr"] for e in doc["evaluations"]
             if e["results"][a]["apgr"] is not None and e["results"][b]["apgr"] is not None]
    ra = next(r for r in doc["routers"] if r["name"] == a)
    rb = next(r for r in doc["routers"] if r["name"] == b)
    d = [x - y for x, y in zip(ra["boot"], rb["boot"]) if x is not None and y is not None]
    mean = sum(diffs) / len(diffs)
    m = sum(d) / len(d)
    se = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1))
    return mean, se


def choose(doc):
    routers = [r for r in doc["routers"] if not r["baseline"]]
    kinds = []
    for r in routers:
        if r["kind"] not in kinds:
            kinds.append(r["kind"])
    rows, shipped = [], {}
    for kind in kinds:
        cands = [r for r in routers if r["kind"] == kind]
        base = cands[0]
        clear = []
        for r in cands:
            row = {"r": r, "base": base["name"]}
            if r is not base:
                row["margin"], row["se"] = paired(doc, r["name"], base["name"])
                row["clears"] = row["margin"] > 2 * row["se"]
                if row["clears"]:
                    clear.append(r)
            row["vs_length"] = paired(doc, r["name"], "length")
            rows.append(row)
        win = max(clear, key=lambda r: r["apgr"]) if clear else base
        shipped[kind] = win["name"]
    best = max((r for r in routers if r["name"] in shipped.values()), key=lambda r: r["apgr"])
    margin, se = paired(doc, best["name"], "length")
    shipped["recommended"] = best["kind"] if margin > 2 * se else "length"
    return rows, shipped


def table(doc, rows, shipped):
    out = ["| router | kind | suite APGR (95% CI) | SE | CPT(50%) | margin over the kind's "
           "baseline ± SE | clears 2 SE | margin over length ± SE | shipped |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name in ("random", "length"):
        r = next(x for x in doc["routers"] if x["name"] == name)
        out.append(f"| {name} | baseline | {r['apgr']:.3f} ({r['apgr_ci'][0]:.3f}-"
                   f"{r['apgr_ci'][1]:.3f}) | {r['apgr_se']:.4f} | {r['cpt50']:.1f}% | | | | |")
    for row in rows:
        r = row["r"]
        m = "baseline" if "margin" not in row else f"{row['margin']:+.4f} ± {row['se']:.4f}"
        c = "" if "margin" not in row else ("yes" if row["clears"] else "no")
        vl = f"{row['vs_length'][0]:+.4f} ± {row['vs_length'][1]:.4f}"
        s = "**yes**" if shipped.get(r["kind"]) == r["name"] else ""
        if shipped["recommended"] == r["kind"] and shipped[r["kind"]] == r["name"]:
            s += " (recommended)"
        out.append(f"| {r['name']} | {r['kind']} | {r['apgr']:.3f} ({r['apgr_ci'][0]:.3f}-"
                   f"{r['apgr_ci'][1]:.3f}) | {r['apgr_se']:.4f} | {r['cpt50']:.1f}% | {m} | {c} "
                   f"| {vl} | {s} |")
    return "\n".join(out)


def by_source(doc):
    """Mean APGR per held-out source (columns) for every router and baseline (rows)."""
    sources = []
    for e in doc["evaluations"]:
        if e["source"] not in sources:
            sources.append(e["source"])
    out = ["| router | " + " | ".join(sources) + " |", "|---|" + "---|" * len(sources)]
    for r in doc["routers"]:
        cells = []
        for src in sources:
            v = [e["results"][r["name"]]["apgr"] for e in doc["evaluations"]
                 if e["source"] == src and e["results"][r["name"]]["apgr"] is not None]
            cells.append(f"{sum(v) / len(v):.3f}" if v else "—")
        out.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="a `routellm validate --format json` document")
    ap.add_argument("--write", action="store_true", help="record the choice in "
                    "data/suite/shipped.json")
    args = ap.parse_args()
    doc = load(args)
    rows, shipped = choose(doc)
    print(table(doc, rows, shipped))
    print("\nmean APGR per held-out source:\n")
    print(by_source(doc))
    print("\nchoice: " + json.dumps(shipped))
    if args.write:
        path = os.path.join(ROOT, "data", "suite", "shipped.json")
        with open(path, "w") as f:
            json.dump(shipped, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
