"""Floating-point instructions in the innermost loop with FFMA of a kernel's
SASS (cuobjdump -sass), as tools/bench/loop_ops.sh counts them in the PTX:
the shortest body from a backward branch's target to the branch.
  sass_loop.py SASS FUNCTION [SASS FUNCTION ...]   (FUNCTION "" = the first)
cuobjdump prints branch targets as addresses (BRA 0x2a0) or, in newer
releases, as labels (BRA `(.L_x_1)) with the label on a line of its own;
both are read."""
import collections
import re
import sys


def functions(text):
    """{name: [lines]} of each "Function : name" section."""
    out, name = {}, None
    for line in text.split("\n"):
        m = re.match(r"\s*Function\s*:\s*(\S+)", line)
        if m:
            name = m.group(1)
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def instructions(lines):
    """[(address, mnemonic, text)] and {label: address}."""
    ins, labels, pending = [], {}, []
    for line in lines:
        m = re.match(r"\s*(\.L_x_\d+):", line)
        if m:
            pending.append(m.group(1))
            continue
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?);", line)
        if not m:
            continue
        addr, body = int(m.group(1), 16), m.group(2).strip()
        for p in pending:
            labels[p] = addr
        pending = []
        w = body.split()
        if w and w[0].startswith("@"):
            w = w[1:]
        if w:
            ins.append((addr, w[0], body))
    return ins, labels


def hottest(lines):
    ins, labels = instructions(lines)
    best = None
    for i, (addr, op, body) in enumerate(ins):
        if not op.startswith("BRA"):
            continue
        m = re.search(r"BRA(?:\.\w+)*\s+(?:`\((\.L_x_\d+)\)|(0x[0-9a-f]+))",
                      body)
        if not m:
            continue
        target = labels.get(m.group(1)) if m.group(1) else int(m.group(2), 16)
        if target is None or target >= addr:
            continue
        loop = [o for a, o, _ in ins if target <= a <= addr]
        ops = collections.Counter(o.split(".")[0] for o in loop)
        if ops["FFMA"] > 0 and (best is None or len(loop) < best[1]):
            best = (ops, len(loop))
    return best


def main(argv):
    for path, name in zip(argv[1::2], argv[2::2]):
        fns = functions(open(path).read())
        if not fns:
            print("%s: no functions in the SASS" % path)
            continue
        key = name if name else next(iter(fns))
        found = hottest(fns.get(key, []))
        if found is None:
            print("%-13s no loop with FFMA in %s" % (key, path))
            continue
        ops, size = found
        fp = {k: v for k, v in ops.items() if k.startswith("F")}
        print("%-13s SASS loop: %d instructions, %d FP (%s)"
              % (key, size, sum(fp.values()),
                 ", ".join("%s %d" % kv for kv in sorted(fp.items()))))


if __name__ == "__main__":
    main(sys.argv)
