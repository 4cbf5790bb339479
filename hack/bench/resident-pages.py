#!/usr/bin/env python3
"""Which parts of a running rkube's binary are resident (what idle RssFile is made of).

    hack/bench/resident-pages.py PID        # as root (pagemap), e.g. an idle `rkube server`

Reads /proc/PID/maps and /proc/PID/pagemap for the mappings of the process's executable,
and prints the resident KiB per ELF section, then, for .text/.rodata/.data.rel.ro, the
bytes of symbols (`nm -S`, demangled, grouped by their leading crate name) that lie on
resident pages. The kernel maps up to 64 KiB around each page fault, so code run once at
start-up counts in whole windows. Needs binutils (readelf, nm) and a binary with symbols
(the release profile strips debug info only)."""
import collections
import os
import re
import struct
import subprocess
import sys

PAGE = 4096
TOP = 60


def resident_offsets(pid, exe):
    """(file offset, permissions) of every resident page of the executable's mappings."""
    out = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pm:
        for line in maps:
            parts = line.split()
            if len(parts) < 6 or parts[5] != exe:
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            offset, pages = int(parts[2], 16), (end - start) // PAGE
            pm.seek(start // PAGE * 8)
            entries = pm.read(pages * 8)
            for i in range(pages):
                if struct.unpack_from("<Q", entries, i * 8)[0] >> 63 & 1:
                    out.append((offset + i * PAGE, parts[1]))
    return out


def sections(exe):
    """(file offset, end, name, address) of every non-empty section."""
    out = subprocess.run(["readelf", "-SW", exe], capture_output=True, text=True).stdout
    secs = []
    pattern = r"\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)"
    for m in re.finditer(pattern, out):
        name, addr, off, size = m.group(1), *(int(m.group(i), 16) for i in (2, 3, 4))
        if size:
            secs.append((off, off + size, name, addr))
    return secs


def crate(symbol):
    n = re.sub(r"^(impl |dyn )", "", symbol.lstrip("<").replace("_<", ""))
    m = re.match(r"([A-Za-z0-9_]+)::", n)
    return m.group(1) if m else n[:30]


def main():
    pid = int(sys.argv[1])
    exe = os.readlink(f"/proc/{pid}/exe")
    secs = sections(exe)
    per_section = collections.Counter()
    resident_pages = set()  # virtual page numbers (link addresses)
    for off, perm in resident_offsets(pid, exe):
        name, delta = next(((n, a - s) for s, e, n, a in secs if s <= off < e), ("?", 0))
        per_section[(name, perm)] += PAGE
        resident_pages.add((off + delta) // PAGE)
    by_address = [(a, a + (e - s), n) for s, e, n, a in secs]
    per_crate = collections.Counter()
    nm = subprocess.run(["nm", "-S", "--defined-only", "-C", exe], capture_output=True, text=True)
    for line in nm.stdout.splitlines():
        p = line.split(None, 3)
        if len(p) != 4:
            continue
        try:
            start, size = int(p[0], 16), int(p[1], 16)
        except ValueError:
            continue
        section = next((n for a, e, n in by_address if a <= start < e), "?")
        if size == 0 or section not in (".text", ".rodata", ".data.rel.ro"):
            continue
        for page in range(start // PAGE, (start + size - 1) // PAGE + 1):
            if page in resident_pages:
                lo, hi = max(start, page * PAGE), min(start + size, (page + 1) * PAGE)
                per_crate[(section, crate(p[3]))] += hi - lo
    print("resident KiB by section:")
    for (name, perm), v in per_section.most_common():
        print(f"  {name:20} {perm} {v // 1024}")
    print(f"KiB of symbols on resident pages, by crate (top {TOP}):")
    for (section, c), v in per_crate.most_common(TOP):
        print(f"  {section:12} {c:40} {v // 1024}")


if __name__ == "__main__":
    main()
