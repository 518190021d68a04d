#!/usr/bin/python3
"""The deployment snippets in etc/ work as written: nginx + fcgiwrap
(etc/nginx/stackmon-dashboard.conf) and Apache with mod_cgi
(etc/apache2/stackmon-dashboard.conf) each serve the dashboard on a
loopback port behind basic authentication. Only the install paths in the
snippets are replaced by the test's own (the CGI, its config, the password
file, fcgiwrap's socket). lighttpd's snippet is covered by browser_test.py
through scripts/dashboard-lighttpd.sh and checked here with `lighttpd -tt`.

Usage: servers_test.py STACKMON_CGI DASH_FIXTURE
The servers are looked for on PATH, or under $STACKMON_SERVERS_ROOT (a
directory the Debian packages were unpacked into with dpkg -x). Each one
that is missing is skipped; exits 77 when none can be run.
"""
import atexit
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SRC = os.environ.get("STACKMON_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
ROOT = os.environ.get("STACKMON_SERVERS_ROOT", "")
CGI, FIXTURE = os.path.abspath(sys.argv[1]), sys.argv[2]
failures = []

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from testproc import PROCS, free_port  # noqa: E402


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def find(name):
    for d in ("/usr/sbin", "/usr/bin", "/sbin"):
        p = os.path.join(ROOT, d.lstrip("/"), name) if ROOT else None
        if p and os.access(p, os.X_OK):
            return p
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def server_env():
    env = dict(os.environ)
    if ROOT:
        env["LD_LIBRARY_PATH"] = os.path.join(ROOT, "usr/lib/x86_64-linux-gnu")
    return env


def wait_port(port, proc, logfile):
    for _ in range(100):
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def get(url, user=None, pw=None):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    req = urllib.request.Request(url)
    if user:
        req.add_header("Authorization",
                       "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode())
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=60) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), dict(e.headers)


def snippet(name, tmp, subst):
    text = open(os.path.join(SRC, "etc", name)).read()
    for old, new in subst.items():
        check(old in text, f"{name} still names {old}")
        text = text.replace(old, new)
    return text


def exercise(label, base, uuid):
    """The same requests against any server."""
    status, _, headers = get(base + "/")
    check(status == 401, f"{label}: no credentials gives {status}")
    check("Basic" in headers.get("WWW-Authenticate", ""), f"{label}: no basic challenge")
    status, _, _ = get(base + "/", "alice", "wrong")
    check(status == 401, f"{label}: wrong password gives {status}")
    status, body, headers = get(base + "/", "alice", "alice-pw")
    check(status == 200 and uuid in body and "<table" in body,
          f"{label}: tenant page {status} {body[:200]!r}")
    check("default-src 'none'" in headers.get("Content-Security-Policy", ""),
          f"{label}: the CGI's headers pass through")
    status, body, _ = get(base + f"/instance?uuid={uuid}&window=7d", "alice", "alice-pw")
    check(status == 200 and body.count("<svg") >= 10, f"{label}: instance page {status}")
    status, body, _ = get(base + "/api/v1/projects", "alice", "alice-pw")
    check(status == 200 and '"user":"alice"' in body, f"{label}: REMOTE_USER reaches the CGI")
    status, _, _ = get(base + "/", "mallory", "mallory-pw")
    check(status == 403, f"{label}: a user outside the access list gets {status}")
    status, _, _ = get(base + "/host?name=cn1", "alice", "alice-pw")
    check(status == 403, f"{label}: host page for a tenant gives {status}")
    print(f"{label}: served through its snippet", flush=True)


def main():
    tmp = tempfile.mkdtemp(prefix="sm-dash-servers-")
    atexit.register(shutil.rmtree, tmp, True)
    os.chmod(tmp, 0o755)
    data = os.path.join(tmp, "data")
    subprocess.run([FIXTURE, data], check=True, capture_output=True)
    for rootdir, dirs, files in os.walk(tmp):
        os.chmod(rootdir, 0o755)
        for f in files:
            os.chmod(os.path.join(rootdir, f), 0o644)
    uuid = "a1000000-0000-4000-8000-000000000001"
    access = os.path.join(tmp, "access.list")
    with open(access, "w") as f:
        f.write("user alice proj-alpha\nadmin root\n")
    conf = os.path.join(tmp, "dashboard.conf")
    with open(conf, "w") as f:
        f.write(f"data_dir = {data}\naccess_list = {access}\n")
    htpasswd = os.path.join(tmp, "htpasswd")
    with open(htpasswd, "w") as f:
        for user in ("alice", "mallory"):
            h = subprocess.run(["openssl", "passwd", "-apr1", f"{user}-pw"], check=True,
                               capture_output=True, text=True).stdout.strip()
            f.write(f"{user}:{h}\n")
    os.chmod(htpasswd, 0o644)
    # The servers run the CGI as nobody/www-data: it must not depend on where
    # the tree is (a checkout under /root, mode 0700, is out of their reach),
    # so the CGI is served from the world-readable temporary folder.
    cgi = os.path.join(tmp, "stackmon.cgi")
    shutil.copy2(CGI, cgi)
    os.chmod(cgi, 0o755)
    common = {"/usr/lib/cgi-bin/stackmon.cgi": cgi,
              "/etc/stackmon/dashboard.conf": conf,
              "/etc/stackmon/dashboard.htpasswd": htpasswd}
    ran = 0

    # lighttpd: the snippet parses and loads its modules.
    lighttpd = find("lighttpd")
    if lighttpd:
        main_conf = os.path.join(tmp, "lighttpd.conf")
        with open(main_conf, "w") as f:
            f.write(f'server.document-root = "{tmp}"\nserver.port = {free_port()}\n'
                    f'server.bind = "127.0.0.1"\n'
                    + snippet("lighttpd/stackmon-dashboard.conf", tmp, common))
        r = subprocess.run([lighttpd, "-tt", "-f", main_conf], capture_output=True, text=True)
        check(r.returncode == 0, f"lighttpd -tt: {r.stderr}")

    nginx, fcgiwrap = find("nginx"), find("fcgiwrap")
    if nginx and fcgiwrap:
        ran += 1
        ndir = os.path.join(tmp, "nginx")
        os.makedirs(ndir)
        params = os.path.join(ROOT, "etc/nginx/fastcgi_params") if ROOT else \
            "/etc/nginx/fastcgi_params"
        shutil.copy(params, ndir)
        sock = os.path.join(ndir, "fcgiwrap.socket")
        fw = subprocess.Popen([fcgiwrap, "-s", f"unix:{sock}"], env=server_env(),
                              stdout=subprocess.DEVNULL, stderr=open(f"{ndir}/fcgiwrap.log", "w"),
                              start_new_session=True)
        PROCS.append(fw)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        os.chmod(sock, 0o777)
        port = free_port()
        with open(os.path.join(ndir, "nginx.conf"), "w") as f:
            f.write(f"daemon off;\nmaster_process on;\nworker_processes 1;\n"
                    f"user nobody nogroup;\npid {ndir}/nginx.pid;\n"
                    f"error_log {ndir}/error.log;\nevents {{}}\nhttp {{\n"
                    f"access_log off;\nclient_body_temp_path {ndir}/body;\n"
                    f"fastcgi_temp_path {ndir}/fcgi;\nproxy_temp_path {ndir}/proxy;\n"
                    f"uwsgi_temp_path {ndir}/uwsgi;\nscgi_temp_path {ndir}/scgi;\n"
                    f"server {{\nlisten 127.0.0.1:{port};\n"
                    + snippet("nginx/stackmon-dashboard.conf", tmp,
                              dict(common, **{"/run/fcgiwrap.socket": sock}))
                    + "}\n}\n")
        ng = subprocess.Popen([nginx, "-p", ndir + "/", "-c", f"{ndir}/nginx.conf"],
                              env=server_env(), stdout=subprocess.DEVNULL,
                              stderr=open(f"{ndir}/stderr.log", "w"), start_new_session=True)
        PROCS.append(ng)
        if check(wait_port(port, ng, ndir), "nginx did not start: " +
                 open(f"{ndir}/stderr.log").read() + open(f"{ndir}/error.log").read()):
            status, _, headers = get(f"http://127.0.0.1:{port}/stackmon", "alice", "alice-pw")
            check(status == 301 and headers.get("Location", "").endswith("/stackmon/"),
                  f"nginx: /stackmon redirects ({status})")
            exercise("nginx + fcgiwrap", f"http://127.0.0.1:{port}/stackmon", uuid)
    else:
        print("skipped nginx: nginx or fcgiwrap not found")

    apache = find("apache2")
    moddir = os.path.join(ROOT, "usr/lib/apache2/modules") if ROOT else "/usr/lib/apache2/modules"
    if apache and os.path.isdir(moddir):
        ran += 1
        adir = os.path.join(tmp, "apache")
        os.makedirs(adir)
        port = free_port()
        mods = ["mpm_prefork", "authz_core", "authn_core", "authn_file", "auth_basic",
                "authz_user", "alias", "env", "cgi", "unixd"]
        loads = "".join(f"LoadModule {m}_module {moddir}/mod_{m}.so\n" for m in mods
                        if os.path.exists(f"{moddir}/mod_{m}.so"))
        with open(os.path.join(adir, "apache2.conf"), "w") as f:
            f.write(loads + f"ServerRoot {adir}\nServerName localhost\n"
                    f"Listen 127.0.0.1:{port}\nPidFile {adir}/apache.pid\n"
                    f"ErrorLog {adir}/error.log\nDefaultRuntimeDir {adir}\nMutex file:{adir}\n"
                    f"User nobody\nGroup nogroup\nDocumentRoot {adir}\n"
                    + snippet("apache2/stackmon-dashboard.conf", tmp, common))
        ap = subprocess.Popen([apache, "-DFOREGROUND", "-f", f"{adir}/apache2.conf"],
                              env=server_env(), stdout=subprocess.DEVNULL,
                              stderr=open(f"{adir}/stderr.log", "w"), start_new_session=True)
        PROCS.append(ap)
        if check(wait_port(port, ap, adir), "apache did not start: " +
                 open(f"{adir}/stderr.log").read()):
            exercise("apache + mod_cgi", f"http://127.0.0.1:{port}/stackmon", uuid)
    else:
        print("skipped apache: apache2 not found")

    if ran == 0:
        print("SKIP: neither nginx + fcgiwrap nor apache2 is installed")
        sys.exit(77)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("servers_test: all checks passed")


main()
