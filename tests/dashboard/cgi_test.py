#!/usr/bin/python3
"""The dashboard CGI run directly with CGI environment variables, as a web
server runs it, against a fixture data directory (dash_fixture): every page
and API endpoint, every error status, tenant isolation whatever the
parameters, escaping of hostile names in HTML, SVG and JSON, security
headers, and that the index is never written.

Usage: cgi_test.py STACKMON_CGI DASH_FIXTURE
"""
import base64
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

CGI, FIXTURE = sys.argv[1], sys.argv[2]
HOSTILE = "<script>alert(1)</script>"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


class Resp:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stderr = proc.stderr.decode("utf-8", "replace")
        head, sep, self.body = proc.stdout.partition(b"\r\n\r\n")
        self.headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.status = int(self.headers.get("status", "0 x").split()[0])
        self.text = self.body.decode("utf-8")
        self.tree = ET.Element("unparsed")  # replaced by html_checks when well-formed
        self.json = {}


def cgi(path="/", query="", user=None, method="GET", conf=None, env=None):
    e = {
        "PATH": "/usr/bin:/bin",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "/stackmon",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "STACKMON_DASHBOARD_CONF": conf or CONF,
    }
    if user is not None:
        e["REMOTE_USER"] = user
    if env:
        e.update(env)
    r = Resp(subprocess.run([CGI], env=e, capture_output=True, timeout=60))
    common_checks(r, path, query, user, method)
    return r


def common_checks(r, path, query, user, method):
    what = f"{method} {path}?{query} as {user}"
    check(r.rc == 0, f"{what}: exit status {r.rc} (stderr: {r.stderr[-300:]})")
    check(r.status in (200, 400, 401, 403, 404, 405, 500, 503), f"{what}: status {r.status}")
    if method == "HEAD":
        check(r.body == b"", f"{what}: HEAD with a body")
    else:
        check(int(r.headers.get("content-length", -1)) == len(r.body),
              f"{what}: Content-Length {r.headers.get('content-length')} != {len(r.body)}")
    csp = r.headers.get("content-security-policy", "")
    check("default-src 'none'" in csp and "unsafe" not in csp and "script-src" not in csp,
          f"{what}: CSP {csp!r}")
    check(r.headers.get("x-content-type-options") == "nosniff", f"{what}: no nosniff")
    check(r.headers.get("cache-control") == "no-store", f"{what}: Cache-Control")
    if method == "HEAD" or not r.body:
        return
    ctype = r.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            r.json = json.loads(r.text)
        except ValueError as exc:
            check(False, f"{what}: invalid JSON: {exc}")
        check("<" not in r.text and ">" not in r.text, f"{what}: raw < or > in JSON")
    else:
        check(ctype == "text/html; charset=utf-8", f"{what}: content type {ctype}")
        html_checks(r, what, csp)


def html_checks(r, what, csp):
    # Every page is well-formed XML: an escaping mistake shows as a parse
    # error or as an element that should not exist.
    try:
        r.tree = ET.fromstring(r.body)
    except ET.ParseError as exc:
        check(False, f"{what}: not well-formed: {exc}")
        return
    for el in r.tree.iter():
        tag = el.tag.split("}")[-1]
        check(tag not in ("script", "iframe", "object", "embed", "img"),
              f"{what}: <{tag}> element")
        for attr in el.attrib:
            check(not attr.lower().startswith("on"), f"{what}: event attribute {attr}")
        href = el.attrib.get("href")
        if href is not None:
            check(href.startswith("/stackmon/") or href == "/stackmon/",
                  f"{what}: link {href!r}")
    style = re.search(rb"<style>(.*?)</style>", r.body, re.S)
    if check(style is not None, f"{what}: no <style>"):
        digest = base64.b64encode(hashlib.sha256(style.group(1)).digest()).decode()
        check(f"'sha256-{digest}'" in csp, f"{what}: CSP hash does not match the style")


def svgs_or_json(r):
    if r.headers.get("content-type", "").startswith("application/json"):
        return [json.loads(r.text)]
    return [1] if b"<table" in r.body or b"<svg" in r.body else []


def svgs(r):
    return [el for el in r.tree.iter() if el.tag.endswith("svg")]


def expect(r, status, what):
    return check(r.status == status, f"{what}: status {r.status}, expected {status}"
                 f" ({r.text[:200]!r})")


# ---- fixture --------------------------------------------------------------

tmp = tempfile.mkdtemp(prefix="sm-dash-cgi-")
try:
    DATA = os.path.join(tmp, "data")
    subprocess.run([FIXTURE, DATA], check=True, capture_output=True)
    FX = json.load(open(os.path.join(DATA, "fixture.json")))
    I = FX["instances"]
    ACCESS = os.path.join(tmp, "access.list")
    with open(ACCESS, "w") as f:
        f.write("admin root\nuser alice proj-alpha\nuser bob proj-beta\n"
                "user carol proj-alpha proj-beta\nuser dave proj-empty\n")
    CONF = os.path.join(tmp, "dashboard.conf")
    with open(CONF, "w") as f:
        f.write(f"data_dir = {DATA}\naccess_list = {ACCESS}\nstale_after = 300\n"
                "title = Test <Dash>\n")

    def conf_with(name, text):
        p = os.path.join(tmp, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def tree_state():
        """Every file under the data dir with its hash: proves no writes.
        The WAL index (-shm) is left out: it is shared memory that every
        sqlite reader updates; the read-only user test below shows the CGI
        needs no write permission even there."""
        state = {}
        for root, _, files in os.walk(DATA):
            for name in files:
                if name.endswith("-shm"):
                    continue
                p = os.path.join(root, name)
                with open(p, "rb") as f:
                    state[p] = hashlib.sha256(f.read()).hexdigest()
        return state

    before = tree_state()
    beta_uuids = [I["beta_hostile"], I["beta_secret"]]
    beta_forms = []
    for u in beta_uuids:
        beta_forms += [u, u.upper(), u.replace("-", ""), u.upper().replace("-", "")]
    beta_strings = beta_forms + ["beta-secret-db", "alert(1)", "proj-beta", "cn3"]

    def no_beta(r, what):
        low = r.text.lower()
        for s in beta_strings:
            check(s.lower() not in low, f"{what}: leaks {s!r}")

    # ---- pages ------------------------------------------------------------

    r = cgi("/", user="alice")
    expect(r, 200, "alice home")
    no_beta(r, "alice home")
    for role in ("alpha_web1", "alpha_web2", "alpha_stale", "alpha_paused"):
        check(I[role] in r.text, f"alice home lists {role}")
    check(FX["stopped"] not in r.text, "alice home hides the stopped instance")
    rows = [el for el in r.tree.iter() if el.tag == "tr" and "uuid=" in ET.tostring(el, "unicode")]
    check(len(rows) == 4, f"alice home has 4 instance rows, not {len(rows)}")
    stale = [ET.tostring(el, "unicode") for el in rows if el.attrib.get("class") == "stale"]
    check(len(stale) == 1 and I["alpha_stale"] in stale[0], "only db-1 is stale")
    check("Test &lt;Dash&gt;" in r.text, "title from the config, escaped")
    for col in ("vCPU", "memory", "read", "write", "rx", "tx", "1 min", "5 min", "15 min", "age"):
        check(f">{col}" in r.text, f"column {col}")

    # Sorting without script: every header is a link; the order follows it.
    for key in ("name", "host", "cpu", "mem", "rd_req", "wr_req", "rd_bytes", "wr_bytes", "rx",
                "tx", "load1", "load5", "load15", "age"):
        for order in ("asc", "desc"):
            q = f"project=proj-alpha&sort={key}&order={order}"
            page = cgi("/", q, user="alice")
            api = cgi("/api/v1/snapshot", q, user="alice")
            expect(page, 200, f"sort {key} {order}")
            uuids = [x["uuid"] for x in api.json["instances"]]
            pos = [page.text.index(u) for u in uuids]
            check(pos == sorted(pos), f"page and API agree on sort {key} {order}")
            check(f"sort={key}&amp;order=" in r.text or key == "name", f"header link {key}")
    api = cgi("/api/v1/snapshot", "project=proj-alpha&sort=cpu&order=desc", user="alice")
    cpus = [x["cpu_pct"] for x in api.json["instances"] if x["cpu_pct"] is not None]
    check(cpus == sorted(cpus, reverse=True), "cpu sorted descending")

    r = cgi("/", user="carol")
    expect(r, 200, "carol home")
    check("?project=proj-alpha" in r.text and "?project=proj-beta" in r.text,
          "carol has a project chooser with both projects")
    r = cgi("/", "project=proj-beta", user="carol")
    expect(r, 200, "carol beta")
    check(I["beta_secret"] in r.text, "carol sees beta")

    r = cgi("/", user="root")
    expect(r, 200, "admin overview")
    for s in ("proj-alpha", "proj-beta", "cn1", "cn2", "cn3", "Compute nodes", "down"):
        check(s in r.text, f"overview shows {s}")

    # The administrators' first page leads to instances: each project's
    # count links to its instance table, the busiest instances of every
    # project (and of none) link to their graphs, and "/instances" lists
    # them all.
    active = [I[x] for x in ("alpha_web1", "alpha_web2", "alpha_stale", "alpha_paused",
                             "beta_hostile", "beta_secret", "no_project", "gamma_new")]

    def instance_rows(r):
        """(uuid, vCPU cell) of each instance row, in page order."""
        out = []
        for tr in r.tree.iter("tr"):
            cells = list(tr.iter("td"))
            links = [a.attrib["href"] for a in tr.iter("a") if "/instance?uuid=" in
                     a.attrib.get("href", "")]
            if links and len(cells) > 3:
                out.append((links[0].split("uuid=")[1], "".join(cells[3].itertext())))
        return out

    def busiest_first(rows):
        cpus = [float(c) if c != "\u2014" else -1 for _, c in rows]
        return cpus == sorted(cpus, reverse=True)

    r = cgi("/", user="root")
    rows = instance_rows(r)
    check(sorted(u for u, _ in rows) == sorted(active),
          f"overview lists every active instance: {len(rows)} rows")
    check(busiest_first(rows), "overview instances busiest first")
    check(FX["stopped"] not in r.text, "overview hides the stopped instance")
    check('<a href="/stackmon/?project=proj-alpha">4 instances</a>' in r.text,
          "a project's instance count links to its instances")
    check('href="/stackmon/instances">All 8 instances' in r.text, "overview links to all")
    check('<a href="/stackmon/instances">Instances</a>' in r.text, "an Instances tab")
    check("<tfoot>" in r.text, "all instances shown: totals")
    r = cgi("/instances", user="root")
    expect(r, 200, "all instances")
    rows = instance_rows(r)
    check(sorted(u for u, _ in rows) == sorted(active), "all instances listed")
    check(r.text.count('<a class="on" href="/stackmon/instances">') == 1, "Instances tab on")
    r = cgi("/instances", "sort=cpu&order=desc", user="root")
    expect(r, 200, "all instances by cpu")
    check(busiest_first(instance_rows(r)), "all instances sorted by cpu")
    for q in ("sort=evil", "project=proj-alpha", "order=up"):
        expect(cgi("/instances", q, user="root"), 400, f"/instances?{q}")
    r = cgi("/instances", user="alice")
    expect(r, 403, "all instances for a tenant")
    check("denied" in r.stderr, "all instances for a tenant: logged")
    check('href="/stackmon/instances"' not in cgi("/", user="alice").text,
          "no Instances tab for a tenant")

    # At 1,000 instances the overview stays small: the 20 busiest, a link
    # to the rest, no totals that would only add up those 20.
    bench = os.path.join(tmp, "bench")
    subprocess.run([FIXTURE, bench, "--bench", "1000"], check=True, capture_output=True)
    bench_conf = conf_with("bench.conf", f"data_dir = {bench}\naccess_list = {ACCESS}\n")
    r = cgi("/", user="root", conf=bench_conf)
    expect(r, 200, "overview of 1,000 instances")
    rows = instance_rows(r)
    check(len(rows) == 20 and busiest_first(rows), f"overview: {len(rows)} instance rows")
    check('href="/stackmon/instances">All 1000 instances' in r.text, "link to all 1,000")
    check("The 20 busiest by vCPU." in r.text and "<tfoot>" not in r.text,
          "bounded list says so, without totals")
    check(len(r.body) < 64 * 1024, f"overview of 1,000 instances: {len(r.body)} bytes")
    r = cgi("/instances", user="root", conf=bench_conf)
    check(len(instance_rows(r)) == 1000, "all 1,000 instances on /instances")

    r = cgi("/", "project=proj-beta&refresh=10", user="root")
    expect(r, 200, "admin beta with refresh")
    check('http-equiv="refresh" content="10"' in r.text, "meta refresh")

    for win in ("15m", "3h", "1d", "7d"):
        r = cgi("/instance", f"uuid={I['alpha_web1']}&window={win}", user="alice")
        expect(r, 200, f"instance web-1 {win}")
        check(len(svgs(r)) >= 10, f"instance {win}: {len(svgs(r))} graphs")
        lines = re.findall(r'<path class="s0" d="([^"]*)"', r.text)
        check(len(lines) >= 10, f"instance {win}: lines drawn")
        if win in ("3h", "7d"):
            # The fixture leaves a gap 1.5 h ago and 3 days ago.
            check(any(d.count("M") >= 2 for d in lines), f"instance {win}: a gap in the lines")
        no_beta(r, f"alice instance {win}")
    r = cgi("/instance", f"uuid={I['alpha_web1'].upper().replace('-', '')}", user="alice")
    expect(r, 200, "uuid without dashes, upper case")
    r = cgi("/instance", f"uuid={I['alpha_web2']}&window=15m", user="alice")
    expect(r, 200, "instance with a cut and a missing file")
    check("file incomplete or damaged" in r.text and "no file yet" in r.text,
          "cut and missing files show as gaps with their reason")
    r = cgi("/instance", f"uuid={FX['stopped']}", user="alice")
    expect(r, 200, "stopped instance page")
    check(">stopped<" in r.text, "stopped badge")

    r = cgi("/host", "name=cn1&window=1d", user="root")
    expect(r, 200, "host page")
    check(len(svgs(r)) >= 5 and I["alpha_web1"] in r.text, "host graphs and instances")
    # Frame loss over the last hour: the minute two hours ago is left out.
    check("<span>frames received</span><b>118</b>" in r.text and
          "<span>frames lost</span><b>2</b>" in r.text and
          "<span>minutes with loss</span><b>1 of 2</b>" in r.text,
          "host page: frame loss of the last hour")
    loss_rows = re.findall(r"<tr><td class=\"l\">[^<]*</td><td>(\d+)</td><td>(\d+)</td>",
                           r.text.split('id="loss-minutes"', 1)[-1].split("</table>", 1)[0])
    check(loss_rows == [("58", "2")], f"host page: minutes with loss {loss_rows}")
    r = cgi("/host", "name=cn2", user="root")
    check("No frame lost in the last hour." in r.text, "host without loss says so")
    r = cgi("/api/v1/host", "name=cn1", user="root")
    l1 = r.json.get("loss_1h", {})
    check(l1.get("received") == 118 and l1.get("lost") == 2 and
          [m["lost"] for m in l1.get("minutes_with_loss", [])] == [2] and
          abs(l1.get("loss_pct", 0) - 100 * 2 / 120) < 1e-4, f"api host: loss_1h {l1}")

    # Nothing to list: a project without instances (the access list names
    # it, the index does not know it), a node that runs none and has no
    # metric file, an instance whose files are not registered yet. Empty
    # lists are sorted too; under the sanitizers a NULL array given to
    # qsort aborts the CGI.
    r = cgi("/", user="dave")
    expect(r, 200, "tenant whose project has no instances")
    check("No active instances in this project." in r.text, "empty project says so")
    for path, q in (("/", "project=proj-empty"), ("/", "project=proj-empty&sort=cpu"),
                    ("/api/v1/snapshot", "project=proj-empty")):
        r = cgi(path, q, user="root")
        expect(r, 200, f"admin {path}?{q}: empty project")
    check(r.json.get("instances") == [], "empty project: no instances in JSON")
    r = cgi("/host", "name=cn4&sort=cpu", user="root")
    expect(r, 200, "host without instances or metric files")
    check("No active instance on this node." in r.text and
          "The aggregator has no files for this yet." in r.text and
          "No frame received from this node in the last hour." in r.text, "empty host says so")
    r = cgi("/api/v1/host", "name=cn4", user="root")
    expect(r, 200, "api host without instances or metric files")
    check(r.json.get("instances") == [] and r.json.get("metrics") == [],
          "empty host: no instances, no metrics in JSON")
    check(r.json.get("loss_1h") == {"received": 0, "lost": 0, "loss_pct": None,
                                    "minutes_with_loss": []}, "empty host: no loss figures")
    r = cgi("/instance", f"uuid={I['gamma_new']}", user="root")
    expect(r, 200, "instance without metric files")
    check("The aggregator has no files for this yet." in r.text, "no files yet says so")
    r = cgi("/api/v1/instance", f"uuid={I['gamma_new']}", user="root")
    expect(r, 200, "api instance without metric files")
    check(r.json.get("metrics") == [], "instance without files: no metrics in JSON")

    # ---- JSON API ---------------------------------------------------------

    r = cgi("/api/v1", user="alice")
    expect(r, 200, "api index")
    r = cgi("/api/v1/projects", user="alice")
    expect(r, 200, "api projects")
    check([p["id"] for p in r.json["projects"]] == ["proj-alpha"], "alice's projects")
    check(r.json["projects"][0]["name"] == "alpha", "project name from the index")
    r = cgi("/api/v1/projects", user="root")
    check({p["id"] for p in r.json["projects"]} == {"proj-alpha", "proj-beta", "proj-gamma"},
          "all projects")
    r = cgi("/api/v1/snapshot", "project=proj-alpha", user="alice")
    expect(r, 200, "api snapshot")
    check(len(r.json["instances"]) == 4, "api snapshot has 4 instances")
    row = next(x for x in r.json["instances"] if x["uuid"] == I["alpha_web1"])
    for k in ("cpu_pct", "mem_pct", "load1", "load5", "load15", "disk_rd_req_ps",
              "disk_wr_bytes_ps", "net_rx_bytes_ps", "net_tx_bytes_ps", "age", "stale", "host"):
        check(k in row, f"api snapshot row has {k}")
    check(row["stale"] is False and row["host"] == "cn1", "web-1 fresh on cn1")
    r = cgi("/api/v1/instance", f"uuid={I['alpha_web1']}", user="alice")
    expect(r, 200, "api instance")
    names = {m["name"] for m in r.json["metrics"]}
    check({"cpu_pct", "disk.vda.rd_bytes_ps", "nic.tap0.tx_drops"} <= names, "metrics listed")
    for win, step, count in (("15m", 1, 900), ("3h", 1, 10800), ("1d", 60, 1440),
                             ("7d", 60, 10080)):
        r = cgi("/api/v1/series", f"uuid={I['alpha_web1']}&metric=cpu_pct&window={win}",
                user="alice")
        expect(r, 200, f"api series {win}")
        check(r.json["step"] == step and len(r.json["values"]) == count,
              f"series {win}: step {r.json['step']}, {len(r.json['values'])} values")
        check(None in r.json["values"] if win in ("3h", "7d") else True, f"series {win}: gap")
    r = cgi("/api/v1/series", f"uuid={I['alpha_web2']}&metric=mem_used_kib", user="alice")
    expect(r, 200, "api series of a cut file")
    check(r.json["values"] == [] and "unavailable" in r.json, "cut file: no values, a reason")
    r = cgi("/api/v1/series", "host=cn2&metric=load1&window=15m", user="root")
    expect(r, 200, "api host series")
    r = cgi("/api/v1/hosts", user="root")
    expect(r, 200, "api hosts")
    check([h["name"] for h in r.json["hosts"]] == ["cn1", "cn2", "cn3", "cn4"], "hosts listed")
    r = cgi("/api/v1/host", "name=cn3", user="root")
    expect(r, 200, "api host")
    check(r.json["host"]["libvirt_ok"] is False, "cn3's libvirt is down")

    # ---- escaping of hostile names ------------------------------------------

    for path, q in (("/", "project=proj-beta"),
                    ("/instance", f"uuid={I['beta_hostile']}&window=15m"),
                    ("/instance", f"uuid={I['beta_hostile']}&window=7d"),
                    ("/host", "name=cn1")):
        r = cgi(path, q, user="root")
        expect(r, 200, f"hostile {path}")
        check(HOSTILE not in r.text, f"{path}: raw hostile name")
        check("&lt;script&gt;alert(1)&lt;/script&gt;" in r.text, f"{path}: escaped name shown")
    r = cgi("/instance", f"uuid={I['beta_hostile']}&window=15m", user="root")
    titles = [el.text for el in r.tree.iter() if el.tag.endswith("title")]
    check(any(t and "<b>x\"'&" in t for t in titles), "odd device name escaped inside SVG")
    for path, q in (("/api/v1/snapshot", "project=proj-beta"),
                    ("/api/v1/instance", f"uuid={I['beta_hostile']}")):
        r = cgi(path, q, user="root")
        expect(r, 200, f"hostile {path}")
        check(HOSTILE in r.text.encode().decode("unicode_escape") and HOSTILE not in r.text,
              f"{path}: name escaped in JSON")
    r = cgi("/api/v1/snapshot", "project=proj-beta", user="root")
    check(any(x["display_name"] == HOSTILE and x["project_name"] == HOSTILE
              for x in r.json["instances"]), "JSON carries the name exactly")

    # ---- isolation: alice never sees beta -----------------------------------

    probe_404 = cgi("/instance", "uuid=00000000-0000-4000-8000-000000000000", user="alice")
    expect(probe_404, 404, "unknown uuid")
    check("denied" in probe_404.stderr, "unknown uuid logged")
    attempts = []
    for u in beta_forms:
        attempts += [("/instance", f"uuid={u}"), ("/api/v1/instance", f"uuid={u}")]
        for m in ("cpu_pct", "disk.vda.rd_bytes_ps", "nic.tap5.rx_bytes_ps"):
            attempts.append(("/api/v1/series", f"uuid={u}&metric={m}&window=7d"))
    for p in ("proj-beta", "PROJ-BETA", "proj-beta%00", "..%2fproj-beta", "proj-beta%2f..",
              "*", "%25", "proj-alpha%26project%3Dproj-beta", "proj-beta.", "proj-bet"):
        attempts += [("/", f"project={p}"), ("/api/v1/snapshot", f"project={p}")]
    attempts += [("/", "project=proj-alpha&project=proj-beta"),
                 ("/", "project=proj-beta&project=proj-alpha"),
                 ("/host", "name=cn3"), ("/host", "name=cn1"), ("/api/v1/hosts", ""),
                 ("/api/v1/host", "name=cn3"), ("/api/v1/series", "host=cn3&metric=load1"),
                 ("/api/v1/series", f"host=cn1&uuid={I['beta_secret']}&metric=cpu_pct"),
                 ("/instance/../host", "name=cn3"), ("/host/", "name=cn3"), ("/instances", ""),
                 ("/instances", "sort=cpu"),
                 ("/api/v1/projects/../hosts", ""), ("//host", "name=cn3")]
    for path, q in attempts:
        r = cgi(path, q, user="alice")
        check(r.status in (400, 403, 404), f"alice {path}?{q}: status {r.status}")
        no_beta(r, f"alice {path}?{q}")
    # Not yours and not there give the same bytes: nothing to probe.
    for path, q_theirs, q_none in (
            ("/instance", f"uuid={I['beta_secret']}", "uuid=b2000000-0000-4000-8000-0000000000ee"),
            ("/api/v1/instance", f"uuid={I['beta_secret']}",
             "uuid=b2000000-0000-4000-8000-0000000000ee"),
            ("/api/v1/series", f"uuid={I['beta_secret']}&metric=cpu_pct",
             "uuid=b2000000-0000-4000-8000-0000000000ee&metric=cpu_pct"),
            ("/", "project=proj-beta", "project=proj-nonexistent"),
            ("/api/v1/snapshot", "project=proj-beta", "project=proj-nonexistent"),
            ("/host", "name=cn3", "name=nosuchhost")):
        a, b = cgi(path, q_theirs, user="alice"), cgi(path, q_none, user="alice")
        check(a.status == b.status and a.body == b.body and a.status in (403, 404),
              f"{path}: same answer for theirs and none ({a.status}/{b.status})")
        check("denied" in a.stderr and "denied" in b.stderr, f"{path}: refusals logged")
    # Their own pages never mention beta, whatever they ask.
    for path, q in (("/", ""), ("/api/v1/projects", ""), ("/api/v1/snapshot", ""),
                    ("/instance", f"uuid={I['alpha_web1']}&window=7d")):
        no_beta(cgi(path, q, user="alice"), f"alice {path}")
    r = cgi("/", user="bob")
    expect(r, 200, "bob home")
    check(all(I[x] not in r.text for x in ("alpha_web1", "alpha_web2")), "bob sees no alpha")

    # ---- alerts (stackmon-alert's firing file, alert_dir) ----------------------
    # The file as stackmon-alert writes it (src/store/firing.h: "F", then
    # rule severity host uuid project_id domain name device expr summary
    # since value, tab-separated, % escapes): one alert of alpha with a
    # hostile summary, one of beta. A tenant sees its own only.
    adir = os.path.join(tmp, "alert")
    os.mkdir(adir)

    def esc(t):
        return "".join("%%%02X" % ord(c) if ord(c) < 0x20 or c == "%" else c for c in t)

    with open(os.path.join(adir, "firing"), "w") as f:
        for fields in (["alpha_hot", "critical", "cn1", I["alpha_web1"], "proj-alpha", "inst-a",
                        "web-1", "", "domain cpu_pct > 90 for 5m", "<img src=x onerror=y>\ttab", "1700000000",
                        "97.5"],
                       ["beta_secret_rule", "warning", "cn3", I["beta_secret"], "proj-beta",
                        "inst-b", "beta-secret-db", "vda", "domain rate(disk.*.errors) > 0", "",
                        "1700000001", "3"]):
            f.write("F\t" + "\t".join(esc(x) for x in fields) + "\n")
    aconf = conf_with("alerts.conf", f"data_dir = {DATA}\naccess_list = {ACCESS}\n"
                      f"stale_after = 300\nalert_dir = {adir}\n")
    r = cgi("/", user="alice", conf=aconf)
    expect(r, 200, "alice home with alerts")
    check("alpha_hot" in r.text and "domain cpu_pct &gt; 90 for 5m" in r.text,
          "alice's project page shows her alert and its rule")
    check("<img" not in r.text and "&lt;img src=x" in r.text, "the alert's summary escaped")
    check("beta_secret_rule" not in r.text, "alice's page shows no beta alert")
    no_beta(r, "alice home with alerts")
    r = cgi("/instance", f"uuid={I['alpha_web1']}", user="alice", conf=aconf)
    expect(r, 200, "alice instance with alerts")
    check("alpha_hot" in r.text, "the instance page shows its alert")
    r = cgi("/instance", f"uuid={I['alpha_web2']}", user="alice", conf=aconf)
    check("alpha_hot" not in r.text and "No alert firing" in r.text,
          "another instance's page shows none")
    r = cgi("/instance", f"uuid={I['beta_secret']}", user="alice", conf=aconf)
    expect(r, 404, "alice on beta's instance with alerts")
    check("beta_secret_rule" not in r.text, "no beta alert on alice's 404")
    r = cgi("/", user="bob", conf=aconf)
    check("beta_secret_rule" in r.text and "alpha_hot" not in r.text,
          "bob sees beta's alert, not alpha's")
    r = cgi("/", "project=proj-beta", user="alice", conf=aconf)
    expect(r, 404, "alice on beta's project with alerts")
    check("beta_secret_rule" not in r.text, "no beta alert on alice's beta 404")
    os.unlink(os.path.join(adir, "firing"))
    r = cgi("/", user="alice", conf=aconf)
    check("No alert firing" in r.text, "no firing file: no alert, page served")

    # ---- error statuses -------------------------------------------------------

    for q in ("foo=1", "project=proj-alpha&project=proj-alpha", "sort=evil", "order=up",
              "sort=cpu%3Bdrop", "refresh=2", "refresh=abc", "project=" + "a" * 65,
              "project=a%zz", "x" * 3000, "project"):
        expect(cgi("/", q, user="alice"), 400, f"home ?{q[:40]}")
    for q in ("", "uuid=nothex", "window=3h", f"uuid={I['alpha_web1']}&window=2h",
              f"uuid={I['alpha_web1']}&metric=cpu_pct"):
        expect(cgi("/instance", q, user="alice"), 400, f"instance ?{q}")
    for q in ("metric=cpu_pct", f"uuid={I['alpha_web1']}",
              f"uuid={I['alpha_web1']}&host=cn1&metric=cpu_pct",
              f"uuid={I['alpha_web1']}&metric=../../index.sqlite"):
        expect(cgi("/api/v1/series", q, user="alice"), 400, f"series ?{q}")
    r = cgi("/api/v1/series", f"uuid={I['alpha_web1']}&metric=nope", user="alice")
    expect(r, 404, "unknown metric")
    check(r.json["error"]["status"] == 404, "JSON error body")
    expect(cgi("/host", "name=nosuchhost", user="root"), 404, "unknown host")
    expect(cgi("/host", "", user="root"), 400, "host without name")
    for path in ("/nope", "/instance/", "/../etc/passwd", "/api/v1/nope", "/style.css",
                 "/API/v1/projects"):
        expect(cgi(path, user="alice"), 404, f"path {path}")
    r = cgi("/", user=None)
    expect(r, 401, "no user")
    check("Basic" in r.headers.get("www-authenticate", ""), "401 asks for credentials")
    expect(cgi("/api/v1/snapshot", user=""), 401, "empty user")
    expect(cgi("/", user="mallory"), 403, "user not in the list")
    expect(cgi("/", user="al ice"), 403, "user name the list cannot hold")
    expect(cgi("/host", "name=cn1", user="alice"), 403, "host page for a tenant")
    expect(cgi("/api/v1/hosts", user="alice"), 403, "hosts API for a tenant")
    r = cgi("/", user="alice", method="POST")
    expect(r, 405, "POST")
    check(r.headers.get("allow") == "GET, HEAD", "Allow header")
    r = cgi("/", user="alice", method="HEAD")
    expect(r, 200, "HEAD")
    check(int(r.headers["content-length"]) > 1000, "HEAD gives the GET's length")

    # Configuration and environment problems: clear 5xx, never a crash.
    cases = (
        ("missing config", os.path.join(tmp, "nope.conf"), 500, "nope.conf"),
        ("unknown key", conf_with("c1", f"data_dir = {DATA}\nbogus = 1\n"), 500, "bogus"),
        ("no data_dir", conf_with("c2", f"access_list = {ACCESS}\n"), 500, "data_dir"),
        ("bad stale_after", conf_with("c3", f"data_dir = {DATA}\nstale_after = -1\n"), 500,
         "stale_after"),
        ("missing access list", conf_with("c4", f"data_dir = {DATA}\naccess_list = "
                                                f"{tmp}/none.list\n"), 500, "access list"),
        ("broken access list", conf_with("c5", f"data_dir = {DATA}\naccess_list = "
                                               f"{conf_with('bad.list', 'root alice')}\n"),
         500, "access list"),
        ("no index", conf_with("c6", f"data_dir = {tmp}\naccess_list = {ACCESS}\n"), 503,
         "is the aggregator running?"),
        ("not an index", conf_with("c7", f"data_dir = {DATA}\naccess_list = {ACCESS}\n"
                                         f"index = {ACCESS}\n"), 503, "index"),
    )
    for what, conf, status, word in cases:
        for path in ("/", "/api/v1/snapshot"):
            r = cgi(path, user="alice", conf=conf)
            expect(r, status, what)
            check(word in r.text, f"{what}: message names {word!r}: {r.text[:160]!r}")
            check(r.stderr.strip() != "" or status == 503, f"{what}: logged")
            if what == "not an index":
                check("running?" not in r.text, f"{what}: does not blame the aggregator")
    # The access list's limits hold while it is read: a file or a line
    # without end is refused at once (500, the file named in the error log)
    # rather than read whole into memory and then taken for an empty list.
    long_list = conf_with("long.list", "admin root\nuser alice proj-alpha" + " " * 20000 + "\n")
    big_list = conf_with("big.list", "# padding lines\n" * (4 * 1048576 // 16 + 1))
    for what, acl, log in (("endless access list", "/dev/zero", "/dev/zero:1: NUL byte"),
                           ("over-long access-list line", long_list,
                            f"{long_list}:2: line longer than"),
                           ("oversized access list", big_list, f"{big_list}: larger than"),
                           ("access list that is a directory", tmp,
                            f"{tmp}: read error: Is a directory")):
        conf = conf_with("acl.conf", f"data_dir = {DATA}\naccess_list = {acl}\n")
        for path in ("/", "/api/v1/snapshot"):
            r = cgi(path, user="alice", conf=conf)
            expect(r, 500, what)
            check("access list cannot be used" in r.text,
                  f"{what}: page says so: {r.text[:160]!r}")
            check(f"access list: {log}" in r.stderr, f"{what}: log line {r.stderr[-300:]!r}")
    # Peak memory of every CGI run so far (a /dev/zero read whole took GBs).
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    check(peak_mib < 256, f"a CGI run peaked at {peak_mib:.0f} MiB")

    p = subprocess.run([CGI], env={"PATH": "/usr/bin"}, capture_output=True)
    check(p.returncode == 2 and b"CGI" in p.stderr, "run outside a web server: usage")

    # Anonymous read, only where the list allows it.
    anon = conf_with("anon.conf", f"data_dir = {DATA}\naccess_list = "
                     f"{conf_with('anon.list', 'anonymous proj-alpha')}\n")
    r = cgi("/", conf=anon)
    expect(r, 200, "anonymous read of an open project")
    check(I["alpha_web1"] in r.text and "not signed in" in r.text, "anonymous page")
    expect(cgi("/", "project=proj-beta", conf=anon), 404, "anonymous elsewhere")
    expect(cgi("/instance", f"uuid={I['beta_hostile']}", conf=anon), 404, "anonymous uuid")
    expect(cgi("/api/v1/hosts", conf=anon), 403, "anonymous hosts")

    check(tree_state() == before, "the data directory was not written")

    def as_nobody(path, q, conf=CONF):
        """The CGI as a web server's unprivileged user runs it."""
        e = {"PATH": "/usr/bin:/bin", "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/stackmon",
             "PATH_INFO": path, "QUERY_STRING": q, "STACKMON_DASHBOARD_CONF": conf,
             "REMOTE_USER": "alice"}
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            CGI], env=e, capture_output=True, timeout=60)
        return Resp(p)

    # The web server's user may not read the index (e.g. lighttpd still
    # runs with the groups it had before www-data joined group stackmon):
    # 503 saying permission denied, naming the file and who the CGI runs as,
    # not "is the aggregator running?".
    if os.geteuid() == 0 and shutil.which("setpriv"):
        os.chmod(tmp, 0o755)
        closed_file, closed_dir = os.path.join(tmp, "closed-file"), os.path.join(tmp, "closed-dir")
        for d, dmode, fmode in ((closed_file, 0o755, 0o640), (closed_dir, 0o750, 0o644)):
            os.makedirs(d)
            shutil.copy(os.path.join(DATA, "index.sqlite"), d)
            os.chmod(os.path.join(d, "index.sqlite"), fmode)
            os.chmod(d, dmode)
        for d, owner in ((closed_file, "the file is root:root 0640"),
                         (closed_dir, "the data directory is root:root 0750")):
            index = os.path.join(d, "index.sqlite")
            conf = conf_with("closed.conf", f"data_dir = {d}\naccess_list = {ACCESS}\n")
            for path in ("/", "/api/v1/snapshot"):
                r = as_nobody(path, "", conf)
                what = f"index unreadable to nobody ({os.path.basename(d)}) {path}"
                text = r.text.replace("&#39;", "'")
                check(r.status == 503, f"{what}: status {r.status}")
                check(f"Permission denied reading the aggregator's index {index} as user nobody, "
                      f"groups nogroup; {owner}." in text, f"{what}: message {text[:300]!r}")
                check("restart the web server" in text and "running?" not in text,
                      f"{what}: the remedy, not the aggregator")
                check(f"index {index}: Permission denied as user nobody" in r.stderr,
                      f"{what}: logged: {r.stderr[-300:]!r}")
    else:
        print("skipped: the permission-denied check needs root and setpriv")

    # As the web server runs it: another user, with read permission only.
    if os.geteuid() == 0 and shutil.which("setpriv"):
        os.chmod(tmp, 0o755)
        for root, dirs, files in os.walk(tmp):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o555)
            for name in files:
                os.chmod(os.path.join(root, name), 0o444)
        os.chmod(tmp, 0o555)
        for path, q in (("/", ""), ("/instance", f"uuid={I['alpha_web1']}&window=7d"),
                        ("/api/v1/series", f"uuid={I['alpha_web1']}&metric=cpu_pct")):
            r = as_nobody(path, q)
            check(r.status == 200 and len(svgs_or_json(r)) > 0,
                  f"read-only user {path}: {r.status} {r.text[:200]!r} {r.stderr[-200:]!r}")
        for root, dirs, _ in os.walk(tmp):
            os.chmod(root, 0o755)
    else:
        print("skipped: the read-only user check needs root and setpriv")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("cgi_test: all checks passed")
