#!/usr/bin/python3
"""Turns a hand-written rule file (the pre-mixin style of prometheus/rules/) into a
mixin rule source for prometheus/mixin/rules/: the attribution label names become
${feature} / ${tenant} / ${route} placeholders (in expressions, `$labels.x`,
`x=%q` query templates, by/on clauses and recording-rule levels `llm_x:`), the
scrape job matcher becomes ${exporter_job}, per-replica groupings `(job, instance`
become `(job, ${replica}`, and runbook_url annotations that follow the config's
runbook_base_url are dropped (the generator writes them). Comments are kept.
Text in, text out: review the result (a label that is the histogram label should
read ${hist}), then regenerate with generate.py.

    python3 prometheus/mixin/convert.py my-rules.yml > prometheus/mixin/rules/my-rules.yml
"""
import argparse
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def convert(text, cfg, doc=None):
    lab = cfg["labels"]
    base = re.escape(cfg["runbook_base_url"])
    out = re.sub(r"\n[ \t]*runbook_url: ['\"]?%s#[a-z0-9]+['\"]?[ \t]*(?=\n)" % base, "", text)
    job = cfg["selectors"]["exporter_job"]
    out = out.replace("{%s}" % job, "{${exporter_job}}")
    out = re.sub(r"\((job, )instance\b(?!, pod)", r"(\1${replica}", out)
    for role in ("feature", "tenant", "route"):
        name = re.escape(lab[role])
        ph = "${%s}" % role
        out = re.sub(r"\bllm_%s:" % name, "llm_%s:" % ph, out)
        out = re.sub(r"\$labels\.%s\b" % name, "$labels.%s" % ph, out)
        out = re.sub(r"\.Labels\.%s\b" % name, ".Labels.%s" % ph, out)
        out = re.sub(r"(?<![\w.$])%s(?==%%q)" % name, ph, out)
        # Inside by (...), on (...), without (...), group_left (...) lists.
        out = re.sub(r"\b(by|on|without|group_left|group_right)\s*\(([^)]*)\)",
                     lambda m: "%s (%s)" % (m.group(1), ", ".join(
                         ph if x.strip() == lab[role] else x.strip() for x in m.group(2).split(","))
                         if m.group(2).strip() else ""),
                     out)
        out = re.sub(r'(?<=[{,\s])%s(?==~?"|!=|!~)' % name, ph, out)
    if doc and not re.match(r"\s*doc:", out):
        out = "doc: %s\n%s" % (doc, out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--config", default=os.path.join(HERE, "config.yml"))
    ap.add_argument("--doc", help="one line for the generated file's header")
    args = ap.parse_args()
    with open(args.config, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    with open(args.file, encoding="utf-8") as f:
        sys.stdout.write(convert(f.read(), cfg, args.doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
