#!/usr/bin/python3
"""Every external command that the tests, scripts and benchmarks call comes
from a Debian package that scripts/install-deps.sh installs.

Why: a command that happens to be on the developer's machine (curl, openssl,
man, file, ...) made the README's test command fail on a fresh Debian 12.
The one list of such commands is scripts/commands.list (command, package);
the packages are scripts/packages.list. This test reads the tree and fails when
  - a file under tests/, scripts/, bench/, fuzz/ or .ci/ calls a command that
    commands.list does not name,
  - commands.list names a package that packages.list does not install and
    that is not part of every Debian root (Essential: yes, or apt),
  - this machine's dpkg says the command comes from another package, or
  - commands.list names a command nothing calls any more.
It finds commands at command positions of shell code, in Python argument lists
and which()/find() calls, in CMake COMMANDs and in the C tests' command
strings. A command reached only through a variable escapes it; the clean-root
run of scripts/test.sh (a fresh Debian root) catches those.

Usage: external_commands.py SOURCE_DIR [--print]
"""
import os
import re
import shutil
import subprocess
import sys

SCANNED_DIRS = ("tests", "scripts", "bench", "fuzz", ".ci")

# Bash builtins and keywords: never external, even where /usr/bin has a
# namesake (kill, echo, printf, test, true, false, [).
BUILTINS = set("""
. : [ [[ ]] alias bg bind break builtin caller case cd command compgen complete
continue declare dirs disown do done echo elif else enable esac eval exec exit
export false fc fg fi for function getopts hash help history if in jobs kill
let local logout mapfile popd printf pushd pwd read readarray readonly return
select set shift shopt source suspend test then time times trap true type
typeset ulimit umask unalias unset until wait while { } ! coproc
""".split())

# Words that pass one more word on as the command they run.
WRAPPERS = {"exec", "command", "env", "nice", "setsid", "time", "nohup",
            "stdbuf", "chrt", "taskset", "sudo", "xargs", "timeout", "flock",
            "ionice", "unshare", "nsenter", "setpriv", "runuser", "builtin"}

# Program paths that appear as data, never run by the tree: the apt policy
# file install-deps writes, and a login shell named for a system user.
NOT_RUN = {"policy-rc.d", "nologin"}

WORD = re.compile(r"^[A-Za-z0-9_.+-]+$")


def tracked_files(top):
    out = subprocess.run(["git", "-C", top, "ls-files", *SCANNED_DIRS],
                         capture_output=True, text=True)
    if out.returncode == 0 and out.stdout.strip():
        return out.stdout.split()
    # Not a git checkout (an unpacked tarball): walk the folders.
    files = []
    for d in SCANNED_DIRS:
        for root, _, names in os.walk(os.path.join(top, d)):
            files += [os.path.relpath(os.path.join(root, n), top) for n in names]
    return files


def kind_of(path, text):
    base = os.path.basename(path)
    if base == "CMakeLists.txt" or path.endswith(".cmake"):
        return "cmake"
    if path.endswith(".py"):
        return "python"
    if path.endswith(".c"):
        return "c"
    first = text.split("\n", 1)[0]
    if first.startswith("#!/bin/busybox"):
        return None  # a guest's /init: runs inside the guest, on its busybox
    if path.endswith(".sh") or re.match(r"#!.*\b(ba)?sh\b", first) or base == "run":
        return "shell"
    if re.match(r"#!.*python", first):
        return "python"
    return None


def strip_shell_comment(line):
    """Drops a # comment that is not inside quotes or a ${...#...}."""
    quote = None
    depth = 0
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "{" and i and line[i - 1] == "$":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif ch == "#" and depth == 0 and (i == 0 or line[i - 1] in " \t;(|&"):
            return line[:i]
    return line


def closing(line, start, opener, closer):
    """Index of the CLOSER that balances the OPENER at START (or the end)."""
    depth = 0
    for j in range(start, len(line)):
        if line[j] == opener:
            depth += 1
        elif line[j] == closer:
            depth -= 1
            if depth == 0:
                return j
    return len(line)


def code_only(line, quote=None):
    """Blanks what cannot hold a command: quoted text (but not a $(...)
    inside double quotes), ${...} expansions and $((...)) arithmetic.
    QUOTE is the quote still open from the line before; returns the code
    and the quote still open at the end of this line."""
    out = []
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if line.startswith("$((", i):
            j = line.find("))", i)
            i = n if j < 0 else j + 2
            out.append(" ARG ")
            continue
        if line.startswith("${", i):
            i = closing(line, i + 1, "{", "}") + 1
            out.append(" ARG ")
            continue
        if quote == "'":
            if ch == "'":
                quote = None
            i += 1
            continue
        if ch == "'" and quote is None:
            quote = "'"
            out.append(" ARG ")
            i += 1
            continue
        if ch == '"':
            quote = None if quote == '"' else '"'
            out.append(" ")
            i += 1
            continue
        if quote == '"':
            if line.startswith("$(", i):
                # copy the command substitution, balanced, as code
                j = closing(line, i + 1, "(", ")")
                out.append(" ; " + line[i + 2:j] + " ; ")
                i = j + 1
                continue
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out), quote


SEGMENT_SPLIT = re.compile(r"\|\||&&|[|;&`]|\$\(|<\(|>\(|\(|\)|\bthen\b|\bdo\b|\belse\b|(?:^|\s)[{}](?=\s|$)")


def shell_commands(text, functions):
    heredoc_end = None
    open_quote = None
    for n, raw in enumerate(text.split("\n"), 1):
        if heredoc_end is not None:
            # Heredoc bodies: data, except the scripts written for a clean
            # root (still commands that must exist there), which we scan.
            if raw.strip() == heredoc_end:
                heredoc_end = None
                continue
            if not heredoc_is_code:
                continue
        m = re.search(r"<<-?\s*['\"]?([A-Za-z_]+)['\"]?", raw)
        if m and heredoc_end is None:
            heredoc_end = m.group(1)
            heredoc_is_code = heredoc_end in ("INSIDE", "SCRIPT", "EOS")
        if open_quote is None:
            raw = strip_shell_comment(raw)
        line, open_quote = code_only(raw, open_quote)
        for seg in SEGMENT_SPLIT.split(line):
            words = seg.split()
            while words:
                w = words[0]
                if "=" in w and re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\[.*\])?\+?=", w):
                    words.pop(0)  # VAR=value before the command
                    continue
                if w in ("!", "if", "elif", "while", "until", "then", "do", "else"):
                    words.pop(0)
                    continue
                if w in WRAPPERS:
                    words.pop(0)
                    # the wrapper's own options and arguments
                    while words and (words[0].startswith("-") or re.match(r"^[0-9.]+[smhd]?$", words[0])
                                     or "=" in words[0]):
                        opt = words.pop(0)
                        if opt in ("-u", "-n", "-t", "-c", "-C", "-k", "-s", "--signal", "--kill-after") and words \
                                and not words[0].startswith("-"):
                            words.pop(0)
                    if w == "command" and words[:1] == ["-v"]:
                        words.pop(0)
                    yield n, w
                    continue
                break
            if not words:
                continue
            w = words[0]
            if w.startswith("/usr/") or w.startswith("/bin/") or w.startswith("/sbin/"):
                yield n, w
            elif WORD.match(w) and w not in BUILTINS and w not in functions:
                yield n, w


def python_commands(text):
    for n, line in enumerate(text.split("\n"), 1):
        code = line.split("#", 1)[0] if not re.search(r"[\"'][^\"']*#", line) else line
        for m in re.finditer(r"\[\s*[\"']([^\"'\s]+)[\"']\s*,", code):
            yield n, m.group(1)
        for m in re.finditer(r"\b(?:which|find|find_program)\(\s*[\"']([^\"'\s]+)[\"']", code):
            yield n, m.group(1)
        for m in re.finditer(r"\b(?:check_output|check_call|run|call|Popen)\(\s*[\"']([A-Za-z0-9_.+/-]+)[ \"']", code):
            yield n, m.group(1)


def cmake_commands(text):
    for n, line in enumerate(text.split("\n"), 1):
        for m in re.finditer(r"\bCOMMAND\s+([^\s$)]+)", line.split("#", 1)[0]):
            yield n, m.group(1)


def c_commands(text):
    for n, line in enumerate(text.split("\n"), 1):
        for m in re.finditer(r"snprintf\(\s*cmd\s*,[^,]*,\s*\"([A-Za-z0-9_.+-]+)", line):
            yield n, m.group(1)


def scan(top):
    """Yields (command, file, line) for each call found."""
    for rel in tracked_files(top):
        path = os.path.join(top, rel)
        if not os.path.isfile(path) or rel.startswith("tests/fixtures/"):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        kind = kind_of(rel, text)
        if kind == "shell":
            functions = set(re.findall(r"^\s*(?:function\s+)?([A-Za-z_][A-Za-z0-9_-]*)\s*\(\)", text, re.M))
            found = shell_commands(text, functions)
        elif kind == "python":
            found = python_commands(text)
        elif kind == "cmake":
            found = cmake_commands(text)
        elif kind == "c":
            found = c_commands(text)
        else:
            continue
        for line, cmd in found:
            yield cmd, rel, line
        # Absolute program paths anywhere ("/usr/bin/chromium"), and the
        # commands a file declares it runs through a variable, on a comment
        # line "# commands: libvirtd virtlogd".
        for n, line in enumerate(text.split("\n"), 1):
            for m in re.finditer(r"[\"'=\s](/(?:usr/)?s?bin/[A-Za-z0-9_.+-]+)", line):
                yield m.group(1), rel, n
            m = re.match(r"\s*#\s*commands:\s*(.*)$", line)
            if m:
                for cmd in m.group(1).split():
                    yield cmd, rel, n


def resolve(cmd):
    """The command's path on this machine, or None."""
    if cmd.startswith("/"):
        return cmd if os.access(cmd, os.X_OK) else None
    return shutil.which(cmd, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")


_OWNERS = {}


def owner(path):
    """The Debian package that installs PATH (following /bin -> /usr/bin)."""
    if not path:
        return None
    if path not in _OWNERS:
        owners_of([path])
    return _OWNERS[path]


def owners_of(paths):
    """Fills _OWNERS for PATHS with one dpkg call (one call per path costs
    seconds each on a loaded machine)."""
    variants = {}
    for path in paths:
        cands = [path, os.path.realpath(path)]
        for p in list(cands):
            cands.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
        variants[path] = cands
    every = sorted({c for cands in variants.values() for c in cands})
    out = subprocess.run(["dpkg", "-S", *every], capture_output=True, text=True)
    found = {}
    for line in out.stdout.splitlines():
        if line.startswith("diversion ") or ": " not in line:
            continue
        pkgs, _, file = line.partition(": ")
        found.setdefault(file.strip(), pkgs.split(",")[0].split(":")[0].strip())
    for path, cands in variants.items():
        _OWNERS[path] = next((found[c] for c in cands if c in found), None)


def read_list(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if line:
                rows.append((n, line.split()))
    return rows


def installed_with(packages):
    """PACKAGES and everything they pull in (Depends, Pre-Depends), as
    installed on this machine: what install-deps.sh leaves on a fresh root."""
    out = subprocess.run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
                          "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                          "--no-enhances", *sorted(packages)],
                         capture_output=True, text=True)
    closure = set(packages)
    for line in out.stdout.splitlines():
        if line and not line[0].isspace() and not line.startswith("<"):
            closure.add(line.strip().split(":")[0])
    return closure


def essential_packages():
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Essential}\n"],
                         capture_output=True, text=True, check=True)
    base = {"apt"}  # every debootstrap/mmdebstrap variant has apt
    for line in out.stdout.splitlines():
        name, _, ess = line.partition(" ")
        if ess.strip() == "yes":
            base.add(name.split(":")[0])
    return base


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    top = sys.argv[1]
    packages = {name for _, row in read_list(os.path.join(top, "scripts/packages.list")) for name in row}
    commands = {}
    for n, row in read_list(os.path.join(top, "scripts/commands.list")):
        if len(row) != 2:
            print(f"FAIL: scripts/commands.list:{n}: expected 'COMMAND PACKAGE'")
            return 1
        commands[row[0]] = (row[1], n)

    # Names the project itself makes or ships are not external.
    ours = set()
    for rel in tracked_files(top):
        ours.add(os.path.basename(rel))
    ours |= {"stackmon-monitor", "stackmon-collector", "stackmon-aggregator", "stackmon-sub",
             "stackmon.cgi", "stackmon-keygen", "stackmon-exporter", "stackmon-alert"}

    used = {}
    where_is = {}
    for cmd, rel, line in scan(top):
        base = os.path.basename(cmd)
        if base in ours or cmd in ours or base in NOT_RUN:
            continue
        path = resolve(cmd)
        if path is None and base not in commands:
            continue  # a function, a variable's name or a word: not a command here
        used.setdefault(base, []).append(f"{rel}:{line}")
        if cmd.startswith("/") and path:
            where_is[base] = path  # off PATH (/usr/lib/apt/apt-helper): look there

    if "--print" in sys.argv:
        owners_of([p for p in (resolve(c) for c in used) if p])
        for cmd in sorted(used):
            print(f"{cmd:24} {owner(resolve(cmd) or '') or '?':28} {used[cmd][0]}")
        return 0

    owners_of([p for p in (where_is.get(c) or resolve(c) for c in used) if p])
    base = essential_packages()
    provided = installed_with(packages)
    failures = 0

    def fail(msg):
        nonlocal failures
        failures += 1
        print("FAIL:", msg)

    for cmd in sorted(used):
        where = used[cmd][0] + (f" (and {len(used[cmd]) - 1} more)" if len(used[cmd]) > 1 else "")
        if cmd not in commands:
            fail(f"{where} calls '{cmd}', which scripts/commands.list does not name "
                 f"(add '{cmd} {owner(resolve(cmd) or '') or 'PACKAGE'}' there and the package to scripts/packages.list)")
            continue
        pkg, n = commands[cmd]
        if pkg not in provided and pkg not in base:
            fail(f"scripts/commands.list:{n}: '{cmd}' comes from '{pkg}', which neither a package of "
                 f"scripts/packages.list installs nor a fresh Debian root has")
        path = where_is.get(cmd) or resolve(cmd)
        real = owner(path) if path else None
        if path is None:
            fail(f"{where} calls '{cmd}', which is not installed here (scripts/install-deps.sh installs '{pkg}')")
        elif real is not None and real != pkg:
            fail(f"scripts/commands.list:{n}: '{cmd}' ({path}) comes from '{real}' here, not '{pkg}'")
    for cmd, (pkg, n) in sorted(commands.items(), key=lambda kv: kv[1][1]):
        if cmd not in used:
            fail(f"scripts/commands.list:{n}: nothing calls '{cmd}' any more: remove the line")

    print(f"{len(used)} external commands used by {len(SCANNED_DIRS)} folders, "
          f"{len(commands)} listed, {len(packages)} packages installed")
    if failures:
        print(f"{failures} problem(s)")
        return 1
    print("ok: every external command comes from a package scripts/install-deps.sh installs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
