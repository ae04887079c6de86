#!/usr/bin/env python3
"""Checks executed notebooks, and compares or writes back their outputs (used by run.sh).

    nbcheck.py check  EXECUTED_DIR NOTEBOOK...   fail if a cell failed or if the text outputs
                                                 differ from the committed NOTEBOOKs
    nbcheck.py update EXECUTED_DIR NOTEBOOK...   fail if a cell failed, else write the executed
                                                 notebooks over the NOTEBOOKs

GoNB reports only compile errors as cell errors: a panic, or a failing !* shell command,
shows as output on stderr with "exit status N". The notebooks write nothing to stderr, so any
stderr output counts as a failed cell.

Text outputs (stdout, text/plain, text/markdown, text/html and errors) must match exactly:
the simulations are seeded and deterministic, so a difference means the committed outputs are
stale (rerun with --update) or a change altered the results. Images are only counted: PNG
bytes depend on the Go release's compressor, so their content is not compared.
"""
import difflib
import json
import os
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def text(v):
    return "".join(v) if isinstance(v, list) else v


def failures(nb):
    out = []
    for i, cell in enumerate(nb["cells"]):
        for o in cell.get("outputs", []):
            if o["output_type"] == "error":
                out.append(f"cell {i}: {o.get('ename')}: {o.get('evalue')}")
            elif o["output_type"] == "stream" and o.get("name") == "stderr":
                out.append(f"cell {i} wrote to stderr:\n{text(o['text'])}")
    return out


def summary(nb):
    """The comparable content of a notebook: per code cell, its text outputs.

    A cell's printed text and its figures travel to the kernel through different pipes, so their
    relative order can vary from run to run: the streams are compared as one text per stream,
    and the rich outputs in their own order.
    """
    lines = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        lines.append(f"--- cell {i} ({cell.get('id', '?')})")
        streams, rich = {}, []
        for o in cell.get("outputs", []):
            kind = o["output_type"]
            if kind == "stream":
                streams[o["name"]] = streams.get(o["name"], "") + text(o["text"])
            elif kind in ("display_data", "execute_result"):
                for mime, v in sorted(o.get("data", {}).items()):
                    rich.append(f"[{mime}]")
                    if not mime.startswith("image/"):
                        rich.extend(text(v).splitlines())
            elif kind == "error":
                rich.append(f"[error] {o.get('ename')}: {o.get('evalue')}")
        for name in sorted(streams):
            lines.append(f"[{name}]")
            lines.extend(streams[name].splitlines())
        lines.extend(rich)
    return lines


def clean(nb):
    """Drops what changes from run to run without meaning: per-cell timing metadata."""
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
    return nb


def main(argv):
    if len(argv) < 3 or argv[0] not in ("check", "update"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, executed_dir, notebooks = argv[0], argv[1], argv[2:]
    status = 0
    for path in notebooks:
        name = os.path.basename(path)
        executed = clean(load(os.path.join(executed_dir, name)))
        bad = failures(executed)
        if bad:
            print(f"{name}: a cell failed")
            for b in bad:
                print("  " + b.replace("\n", "\n  "))
            status = 1
            continue
        if mode == "update":
            with open(path, "w", encoding="utf-8") as f:
                json.dump(executed, f, indent=1, ensure_ascii=False)
                f.write("\n")
            print(f"{name}: outputs written")
            continue
        want, got = summary(load(path)), summary(executed)
        if want != got:
            print(f"{name}: outputs differ from the committed ones (run notebooks/run.sh --update if the change is intended)")
            diff = list(difflib.unified_diff(want, got, "committed", "executed", lineterm="", n=1))
            print("\n".join(diff[:80]))
            if len(diff) > 80:
                print(f"... {len(diff) - 80} more lines")
            status = 1
        else:
            print(f"{name}: outputs match")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
