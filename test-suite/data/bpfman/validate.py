#!/usr/bin/env python3
"""validate.py CRD-DIR FILE.yaml: check the bpfman applications of FILE
against the openAPIV3Schema of bpfman's CRDs and the CEL rule on each
program's type.  Prints one line per problem; exit status 1 if any."""
import sys
import glob
import yaml
import jsonschema

SUB = {"XDP": "xdp", "TC": "tc", "TCX": "tcx", "FEntry": "fentry",
       "FExit": "fexit", "KProbe": "kprobe", "KRetProbe": "kretprobe",
       "UProbe": "uprobe", "URetProbe": "uretprobe",
       "TracePoint": "tracepoint"}


def schemas(crd_dir):
    out = {}
    for f in glob.glob(crd_dir + "/*.yaml"):
        crd = yaml.safe_load(open(f))
        for v in crd["spec"]["versions"]:
            key = (crd["spec"]["group"] + "/" + v["name"],
                   crd["spec"]["names"]["kind"])
            out[key] = v["schema"]["openAPIV3Schema"]
    return out


def main(crd_dir, path):
    known = schemas(crd_dir)
    problems = []
    docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
    if not docs:
        problems.append("no document")
    for d in docs:
        key = (d.get("apiVersion"), d.get("kind"))
        if key not in known:
            problems.append("unknown apiVersion/kind %s" % (key,))
            continue
        v = jsonschema.Draft7Validator(known[key])
        for e in v.iter_errors(d):
            problems.append("%s: %s" % ("/".join(map(str, e.path)), e.message))
        for i, p in enumerate(d.get("spec", {}).get("programs", [])):
            want = SUB.get(p.get("type"))
            for t, sub in SUB.items():
                if (sub in p) != (sub == want):
                    problems.append("programs/%d: type %s with %s %s"
                                    % (i, p.get("type"),
                                       "field" if sub in p else "no field", sub))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
