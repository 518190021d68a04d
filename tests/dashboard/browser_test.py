#!/usr/bin/python3
"""The dashboard in a real browser: lighttpd (started by
scripts/dashboard-lighttpd.sh, basic authentication in front) runs
stackmon.cgi and headless chromium loads the tenant page and an instance
page of a LIVE pipeline: stackmon-monitor on a libvirt test-driver node of
hostile tenants -> stackmon-collector -> stackmon-aggregator writing the
data directory the dashboard reads. Checks the table and the graphs are in
the rendered DOM, hostile names stay text, no CSP violation is reported,
and saves screenshots as CI artefacts (BUILD/artifacts/dashboard-*.png).

Usage: browser_test.py STACKMON_CGI [--fixture DASH_FIXTURE]
                       [--pipeline MONITOR COLLECTOR AGGREGATOR]
With --pipeline the live path is used; with only --fixture, a fixture data
directory (for builds without the daemons). Exits 77 (skip) when lighttpd
or chromium is missing.
"""
import atexit
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SRC = os.environ.get("STACKMON_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("STACKMON_BINARY_DIR", os.getcwd())
CHROMIUM = "/usr/bin/chromium"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from testproc import check, fail, free_port, log, start  # noqa: E402


def http(url, user=None, pw=None):
    req = urllib.request.Request(url)
    if user:
        token = base64.b64encode(f"{user}:{pw}".encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def chromium(url, out_png, tmp):
    """Loads url twice (DOM dump, screenshot); returns (dom, browser log)."""
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--window-size=1280,900", "--enable-logging=stderr", "--v=0"]
    profile = tempfile.mkdtemp(dir=tmp)
    dom = subprocess.run(common + [f"--user-data-dir={profile}", "--dump-dom", url],
                         capture_output=True, timeout=180)
    profile = tempfile.mkdtemp(dir=tmp)
    shot = subprocess.run(common + [f"--user-data-dir={profile}", f"--screenshot={out_png}", url],
                          capture_output=True, timeout=180)
    check(dom.returncode == 0, f"chromium --dump-dom failed: {dom.stderr[-500:]!r}")
    check(shot.returncode == 0 and os.path.getsize(out_png) > 10000,
          f"chromium --screenshot failed: {shot.stderr[-500:]!r}")
    return dom.stdout.decode("utf-8", "replace"), (dom.stderr + shot.stderr).decode("utf-8",
                                                                                      "replace")


def main():
    args = sys.argv[1:]
    cgi = os.path.abspath(args.pop(0))
    fixture = pipeline = None
    while args:
        if args[0] == "--fixture":
            fixture = args[1]
            args = args[2:]
        elif args[0] == "--pipeline":
            pipeline = args[1:4]
            args = args[4:]
        else:
            fail(f"unknown argument {args[0]}")
    if shutil.which("lighttpd") is None or not os.access(CHROMIUM, os.X_OK):
        print("SKIP: lighttpd or chromium is not installed")
        sys.exit(77)

    tmp = tempfile.mkdtemp(prefix="sm-dash-browser-")
    if os.environ.get("STACKMON_KEEP_TMP") != "1":
        atexit.register(shutil.rmtree, tmp, True)
    os.chmod(tmp, 0o755)
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    artifacts = os.path.join(BUILD, "artifacts")
    os.makedirs(artifacts, exist_ok=True)

    if pipeline:
        monitor, collector, aggregator = pipeline
        node = os.path.join(tmp, "node.xml")
        subprocess.run(["/usr/bin/python3", os.path.join(SRC, "tests/fixtures/gen_node.py"),
                        "--domains", "12", "--seed", "7", "--running-fraction", "1",
                        "--paused-fraction", "0", "--out", node], check=True)
        fan_in, fan_out = f"ipc://{tmp}/fan-in", f"ipc://{tmp}/fan-out"
        start("collector", [collector, "--fan-in", fan_in, "--fan-out", fan_out,
                            "--name", "master", "-c", "/dev/null"], tmp)
        start("aggregator", [aggregator, "--subscribe", fan_out, "--data-dir", data,
                             "-c", "/dev/null"], tmp)
        start("monitor", [monitor, "--uri", f"test://{node}", "--publish", f"{fan_in}={fan_out}",
                          "--host", "browser-node", "-c", "/dev/null"], tmp)
        log("live pipeline: monitor -> collector -> aggregator started")
    else:
        subprocess.run([fixture, data], check=True, capture_output=True)
        log("fixture data directory made (no pipeline given)")

    port = free_port()
    env = dict(os.environ, DASHBOARD_PORT=str(port), DASHBOARD_CGI=cgi, DASHBOARD_USER="admin")
    lt = start("lighttpd", [os.path.join(SRC, "scripts/dashboard-lighttpd.sh"), "run", tmp],
               tmp, env=env)
    base = f"http://127.0.0.1:{port}/stackmon"
    pw = None
    for _ in range(100):
        if lt.poll() is not None:
            fail("lighttpd exited: " + open(os.path.join(tmp, "lighttpd.log")).read())
        m = re.search(r"password '([^']+)'", open(os.path.join(tmp, "lighttpd.log")).read())
        if m:
            pw = m.group(1)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                pass
        time.sleep(0.2)
    check(pw is not None, "no credentials printed by dashboard-lighttpd.sh")

    # The web server asks for credentials; the CGI sees who signed in.
    status, _ = http(base + "/")
    check(status == 401, f"without credentials: {status}, expected 401")
    status, _ = http(base + "/", "admin", "wrong-password")
    check(status == 401, f"wrong password: {status}, expected 401")

    # Wait until the aggregator has the instances and some seconds of points.
    deadline = time.time() + 120
    project = uuid = None
    while time.time() < deadline:
        status, body = http(base + "/api/v1/projects", "admin", pw)
        if status == 200:
            projects = json.loads(body)["projects"]
            for p in projects:
                s, b = http(base + f"/api/v1/snapshot?project={p['id']}", "admin", pw)
                inst = json.loads(b)["instances"] if s == 200 else []
                hostile = [i for i in inst if "<" in (i["display_name"] or "")]
                hostile = [i for i in hostile if i["cpu_pct"] is not None]
                if hostile:
                    project, uuid, count = p["id"], hostile[0]["uuid"], len(inst)
                    break
        if project:
            s, b = http(base + f"/api/v1/series?uuid={uuid}&metric=cpu_pct&window=15m",
                        "admin", pw)
            pts = [v for v in json.loads(b).get("values", [])] if s == 200 else []
            if sum(v is not None for v in pts) >= (20 if pipeline else 1):
                break
        time.sleep(2)
    check(project is not None, "no project with a hostile instance and data appeared")
    log(f"project {project}: {count} instances; instance {uuid}")

    tenant_url = f"http://admin:{pw}@127.0.0.1:{port}/stackmon/?project={project}&sort=cpu"
    dom, blog = chromium(tenant_url, os.path.join(artifacts, "dashboard-tenant.png"), tmp)
    check("<table" in dom, "tenant page: no table in the DOM")
    rows = re.findall(r'<tr[^>]*><td class="l"><a href="/stackmon/instance\?uuid=', dom)
    check(len(rows) == count, f"tenant page: {len(rows)} rows, expected {count}")
    check("<script" not in dom and "&lt;script&gt;" in dom,
          "tenant page: hostile name not shown as text")
    check(">vCPU" in dom and ">age<" in dom and ">rx<" in dom, "tenant page: column headers")
    check("Refused to" not in blog, "tenant page: the browser refused something (CSP): " +
          "\n".join(l for l in blog.splitlines() if "Refused" in l)[:800])

    inst_url = f"http://admin:{pw}@127.0.0.1:{port}/stackmon/instance?uuid={uuid}&window=15m"
    dom, blog = chromium(inst_url, os.path.join(artifacts, "dashboard-instance.png"), tmp)
    nsvg = dom.count("<svg")
    check(nsvg >= 8, f"instance page: {nsvg} graphs")
    lines = re.findall(r'<path class="s0" d="M[^"]+"', dom)
    check(len(lines) >= 8, f"instance page: {len(lines)} graphs with a line")
    check("<script" not in dom and "&lt;script&gt;" in dom,
          "instance page: hostile name not shown as text")
    check("Refused to" not in blog, "instance page: the browser refused something (CSP)")
    log(f"tenant page: {len(rows)} rows; instance page: {nsvg} graphs, {len(lines)} lines; "
        f"screenshots in {artifacts}")

    lt.send_signal(signal.SIGTERM)
    try:
        lt.wait(10)
    except subprocess.TimeoutExpired:
        fail("lighttpd did not stop on SIGTERM")
    for name in ("lighttpd",) + (("aggregator", "monitor", "collector") if pipeline else ()):
        text = open(os.path.join(tmp, name + ".log")).read()
        check("Sanitizer" not in text, f"{name}: sanitizer report in its log")
    print("browser_test: all checks passed")


main()
