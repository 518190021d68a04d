#!/usr/bin/python3
"""Proves every man page in docs/man/ renders without a single warning and
stays true to its program: each long option the program's --help prints is
documented in the page, and each option the page documents (an OPTIONS
item) still exists.

Usage: man_pages.py MANDIR [NAME=PROGRAM ...]
Each NAME=PROGRAM pairs a built program with its page NAME.[18].
"""
import os
import re
import shutil
import subprocess
import sys

REQUIRED = {
    "1": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "FILES", "SEE ALSO"],
    "8": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "SIGNALS", "FILES",
          "SEE ALSO"],
    "7": ["NAME", "DESCRIPTION", "FILES", "SEE ALSO"],
}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def lint(path):
    """groff with every warning, man-db's own pipeline, mandoc when present."""
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    checks = [["groff", "-man", "-Tutf8", "-ww", "-z", path],
              ["man", "--warnings", "-l", path]]
    if shutil.which("mandoc"):
        checks.append(["mandoc", "-Tlint", "-W", "warning", path])
    for cmd in checks:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        # man-db prints the page on stdout; mandoc -Tlint reports on stdout.
        noise = r.stderr.strip()
        if cmd[0] == "mandoc":
            noise = (r.stdout + r.stderr).strip()
        if r.returncode != 0 or noise:
            fail(f"{os.path.basename(path)}: {cmd[0]} says: {noise or 'exit %d' % r.returncode}")


def plain(roff):
    """The roff source with escapes that split option names removed."""
    text = roff.replace("\\-", "-").replace("\\&", "").replace("\\%", "")
    return re.sub(r"\\f(\[[A-Z]*\]|[BIRP])", "", text)


def sections(roff):
    return [l[4:].strip().strip('"') for l in roff.splitlines() if l.startswith(".SH ")]


def documented_options(roff):
    """Options that head an item (.TP next line) inside OPTIONS."""
    lines = plain(roff).splitlines()
    opts, in_options = set(), False
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            in_options = line[4:].strip().strip('"') == "OPTIONS"
        elif in_options and line.startswith(".TP") and i + 1 < len(lines):
            opts.update(re.findall(r"--([a-z][a-z0-9-]*)", lines[i + 1]))
    return opts


def main():
    mandir, pairs = sys.argv[1], sys.argv[2:]
    pages = sorted(f for f in os.listdir(mandir) if re.search(r"\.[1-8]$", f))
    if not pages:
        fail(f"no man pages in {mandir}")
    for page in pages:
        path = os.path.join(mandir, page)
        roff = open(path, encoding="utf-8").read()
        if re.search(r"[^\x00-\x7f]", roff):
            fail(f"{page}: non-ASCII characters (write them as roff escapes)")
        lint(path)
        have = sections(roff)
        for want in REQUIRED.get(page[-1], []):
            if want not in have:
                fail(f"{page}: no {want} section")
    for pair in pairs:
        name, program = pair.split("=", 1)
        page = next((p for p in pages if re.fullmatch(re.escape(name) + r"\.[18]", p)), None)
        if page is None:
            fail(f"{name}: no man page {name}.1 or {name}.8 in {mandir}")
            continue
        r = subprocess.run([program, "--help"], capture_output=True, text=True)
        helped = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", r.stdout))
        if r.returncode != 0 or not helped:
            fail(f"{name} --help: exit {r.returncode}, {len(helped)} options")
            continue
        before = len(failures)
        roff = open(os.path.join(mandir, page), encoding="utf-8").read()
        text = plain(roff)
        for opt in sorted(helped):
            if not re.search(r"--" + re.escape(opt) + r"(?![a-z0-9-])", text):
                fail(f"{page}: does not document --{opt}, which `{name} --help` prints")
        for opt in sorted(documented_options(roff) - helped):
            fail(f"{page}: documents --{opt}, which `{name} --help` does not know")
        if len(failures) == before:
            print(f"ok: {page}: {len(helped)} options of `{name} --help` documented")
    if failures:
        print(f"{len(failures)} problem(s)")
        return 1
    print(f"ok: {len(pages)} pages lint clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
