#!/usr/bin/python3
"""The dashboard in a real browser: lighttpd (started by
scripts/dashboard-lighttpd.sh, basic authentication in front) runs
stackmon.cgi and headless chromium loads the tenant page and an instance
page of a LIVE pipeline: stackmon-monitor on a libvirt test-driver node of
hostile tenants -> stackmon-collector -> stackmon-aggregator writing the
data directory the dashboard reads. Checks the table and the graphs are in
the rendered DOM, hostile names stay text, no CSP violation is reported,
and saves screenshots as CI artefacts (BUILD/artifacts/dashboard-*.png).

Then, on a fixture data directory (dash_fixture) whose instance web-1 has
a disk error counter near 900 million, it measures in the browser, over
the DevTools protocol, where every axis label of every chart was laid out:
each must lie inside its SVG, which would otherwise cut it (the gutter
once showed 00000000 for 1000000000). That chart is saved as
BUILD/artifacts/dashboard-ticks.png.

Usage: browser_test.py STACKMON_CGI --fixture DASH_FIXTURE
                       [--pipeline MONITOR COLLECTOR AGGREGATOR]
With --pipeline the live path is used as well; with only --fixture, the
fixture data directory serves every check (builds without the daemons).
Exits 77 (skip) when lighttpd or chromium is missing.
"""
import atexit
import base64
import fcntl
import json
import os
import re
import select
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


class DevTools:
    """Headless chromium driven over --remote-debugging-pipe: JSON messages
    ended by a NUL byte, written to the browser's fd 3 and read from its fd
    4. Script the page itself may not run (the dashboard's CSP forbids all)
    is evaluated by the browser on the test's behalf."""

    def __init__(self, tmp, log_name="chromium-devtools"):
        to_browser, self.wr = os.pipe()
        self.rd, from_browser = os.pipe()

        def fds_3_and_4():
            a = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        profile = tempfile.mkdtemp(dir=tmp)
        self.log = os.path.join(tmp, log_name + ".log")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--enable-logging=stderr", "--v=0", "--remote-debugging-pipe",
             f"--user-data-dir={profile}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"),
            pass_fds=(3, 4), preexec_fn=fds_3_and_4, start_new_session=True)
        os.close(to_browser)
        os.close(from_browser)
        self.buf, self.next_id, self.events = b"", 0, []

    def _read(self, deadline):
        while b"\0" not in self.buf:
            ready, _, _ = select.select([self.rd], [], [], max(0, deadline - time.time()))
            check(ready, "chromium: no answer over DevTools in time")
            chunk = os.read(self.rd, 1 << 20)
            check(chunk, "chromium exited: " + open(self.log).read()[-500:])
            self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method, session=None, timeout=60, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.wr, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                check("error" not in m, f"DevTools {method}: {m.get('error')}")
                return m["result"]
            self.events.append(m)

    def wait_event(self, method, session, timeout=120):
        deadline = time.time() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == method and m.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self._read(deadline))

    def open(self, url, auth, width=1280, height=900):
        """A new tab showing url (basic auth from the `auth` pair); returns its session."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        s = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable", s)
        self.send("Network.enable", s)
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        self.send("Network.setExtraHTTPHeaders", s, headers={"Authorization": "Basic " + token})
        self.send("Emulation.setDeviceMetricsOverride", s, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", s, url=url)
        self.wait_event("Page.loadEventFired", s)
        return s

    def evaluate(self, session, expression):
        r = self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)
        check("exceptionDetails" not in r, f"script failed: {r.get('exceptionDetails')}")
        return r["result"]["value"]

    def screenshot(self, session, path, clip=None):
        params = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = dict(clip, scale=2)
        data = self.send("Page.captureScreenshot", session, **params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except SystemExit:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.wr)
        os.close(self.rd)


# Where the browser laid out each axis label, relative to its chart's SVG
# (whose overflow is hidden): a negative margin is a cut label.
LABEL_BOXES = """(() => {
  const out = [];
  for (const fig of document.querySelectorAll('figure.chart')) {
    const svg = fig.querySelector('svg'), box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text.yl, text.xl')) {
      const r = t.getBoundingClientRect();
      out.push({chart: fig.querySelector('.ct').textContent, cls: t.getAttribute('class'),
                text: t.textContent, left: r.left - box.left, right: box.right - r.right,
                top: r.top - box.top, bottom: box.bottom - r.bottom});
    }
  }
  return out;
})()"""

# The page rectangle of the first chart whose title contains a word, with
# a margin of 8 px.
CHART_RECT = """((word) => {
  for (const fig of document.querySelectorAll('figure.chart'))
    if (fig.querySelector('.ct').textContent.includes(word)) {
      const r = fig.getBoundingClientRect();
      return {x: r.left + window.scrollX - 8, y: r.top + window.scrollY - 8,
              width: r.width + 16, height: r.height + 16};
    }
  return null;
})(%s)"""


def check_tick_labels(dt, url, auth, what, artifacts, shot=None):
    """Every axis label of every chart on url lies inside its SVG; returns
    the labels by chart title."""
    s = dt.open(url, auth)
    boxes = dt.evaluate(s, LABEL_BOXES)
    check(len(boxes) > 0, f"{what}: no axis labels found")
    cut = [b for b in boxes if min(b["left"], b["right"], b["top"], b["bottom"]) < -0.5]
    check(not cut, f"{what}: {len(cut)} of {len(boxes)} axis labels cut by their chart: " +
          "; ".join(f"{b['chart']}: {b['text']!r} ({b['cls']}, left {b['left']:.1f}, "
                    f"right {b['right']:.1f})" for b in cut[:6]))
    labels = {}
    for b in boxes:
        if b["cls"] == "yl":
            labels.setdefault(b["chart"], []).append(b["text"])
    if shot:
        word, name = shot
        rect = dt.evaluate(s, CHART_RECT % json.dumps(word))
        check(rect is not None, f"{what}: no chart titled {word!r}")
        dt.screenshot(s, os.path.join(artifacts, name), rect)
    dt.send("Target.closeTarget", targetId=dt.send("Target.getTargetInfo", s)["targetInfo"]
            ["targetId"])
    log(f"{what}: {len(boxes)} axis labels in {len(labels)} charts, all inside their chart")
    return labels


def serve(cgi, rundir):
    """lighttpd on a free port serving rundir/data, its output in
    rundir/lighttpd.log; returns (process, port, password)."""
    port = free_port()
    env = dict(os.environ, DASHBOARD_PORT=str(port), DASHBOARD_CGI=cgi, DASHBOARD_USER="admin")
    lt = start("lighttpd", [os.path.join(SRC, "scripts/dashboard-lighttpd.sh"), "run", rundir],
               rundir, env=env)
    logfile = os.path.join(rundir, "lighttpd.log")
    pw = None
    for _ in range(100):
        if lt.poll() is not None:
            fail("lighttpd exited: " + open(logfile).read())
        m = re.search(r"password '([^']+)'", open(logfile).read())
        if m:
            pw = m.group(1)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                pass
        time.sleep(0.2)
    check(pw is not None, "no credentials printed by dashboard-lighttpd.sh")
    return lt, port, pw


def stop(lt, rundir):
    lt.send_signal(signal.SIGTERM)
    try:
        lt.wait(10)
    except subprocess.TimeoutExpired:
        fail("lighttpd did not stop on SIGTERM")
    text = open(os.path.join(rundir, "lighttpd.log")).read()
    check("Sanitizer" not in text, f"lighttpd in {rundir}: sanitizer report in its log")


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
    check(fixture is not None, "--fixture DASH_FIXTURE is required")
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

    lt, port, pw = serve(cgi, tmp)
    base = f"http://127.0.0.1:{port}/stackmon"

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

    # Axis labels: on the live instance page, then on the fixture's web-1,
    # whose disk error counter is near 900 million, over two windows.
    dt = DevTools(tmp)
    check_tick_labels(dt, f"{base}/instance?uuid={uuid}&window=15m", ("admin", pw),
                      "live instance page", artifacts)
    if pipeline:
        fx_dir = os.path.join(tmp, "fixture")
        subprocess.run([fixture, os.path.join(fx_dir, "data")], check=True, capture_output=True)
        fx_lt, fx_port, fx_pw = serve(cgi, fx_dir)
        fx_base = f"http://127.0.0.1:{fx_port}/stackmon"
    else:
        fx_dir, fx_lt, fx_base, fx_pw = tmp, None, base, pw
    fx = json.load(open(os.path.join(fx_dir, "data", "fixture.json")))
    web1 = fx["instances"]["alpha_web1"]
    for win in ("3h", "7d"):
        labels = check_tick_labels(
            dt, f"{fx_base}/instance?uuid={web1}&window={win}", ("admin", fx_pw),
            f"fixture instance page, {win}", artifacts,
            ("errors", "dashboard-ticks.png") if win == "7d" else None)
        errors = next((v for k, v in labels.items() if "errors (cumulative)" in k), [])
        check(errors == ["0", "200M", "400M", "600M", "800M", "1G"],
              f"fixture {win}: disk error axis labels {errors}")
    dt.close()
    check("Refused to" not in open(dt.log).read(), "DevTools pages: the browser refused something")
    if fx_lt:
        stop(fx_lt, fx_dir)

    stop(lt, tmp)
    for name in ("aggregator", "monitor", "collector") if pipeline else ():
        text = open(os.path.join(tmp, name + ".log")).read()
        check("Sanitizer" not in text, f"{name}: sanitizer report in its log")
    print("browser_test: all checks passed")


main()
