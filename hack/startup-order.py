#!/usr/bin/env python3
"""The functions of BINARY that callgrind saw run, one mangled name per line, for lld's
`--symbol-ordering-file` (cmd/rkube/startup.order; hack/startup-order.sh runs this).

    hack/startup-order.py BINARY CALLGRIND_OUT... > cmd/rkube/startup.order

Names come from callgrind's `fn=`/`cfn=` records (run with `--demangle=no`); only names the
binary defines as code (`nm`) are kept, so libc's and the loader's functions drop out. Each
file adds the names the files before it did not have, sorted: the first run's code comes
first and together, what only a later run (the agent's) adds after it, so a server without
the agent touches a prefix, not every other page. Sorted rather than in order of first call
(which threads make vary), so a regenerated file changes only where the sets do. Prints a
summary (functions, their bytes) on stderr."""
import re
import subprocess
import sys

RECORD = re.compile(r"^c?fn=\(\d+\) (.+)$")


def code_symbols(binary):
    """{mangled name: size} of the binary's defined code symbols."""
    out = subprocess.run(
        ["nm", "-S", "--defined-only", binary], check=True, capture_output=True, text=True
    ).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            sizes[parts[3]] = max(sizes.get(parts[3], 0), int(parts[1], 16))
    return sizes


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sizes = code_symbols(sys.argv[1])
    order = []
    for path in sys.argv[2:]:
        new = set()
        with open(path, errors="replace") as f:
            for line in f:
                m = RECORD.match(line.rstrip("\n"))
                if not m:
                    continue
                # callgrind marks recursion depths and cycles with a `'N` suffix.
                name = m.group(1).split("'")[0]
                if name in sizes:
                    new.add(name)
        order += sorted(new.difference(order))
    sys.stdout.write("".join(n + "\n" for n in order))
    total = sum(sizes[n] for n in order)
    print(
        f"{len(order)} functions, {total / 1048576:.1f} MiB of the binary's "
        f"{sum(sizes.values()) / 1048576:.1f} MiB of code",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
