#!/usr/bin/python3
"""Reads the Prometheus text exposition format as Prometheus does (label
values unescaped: \\\\, \\", \\n) for the exporter's scenarios.

Usage:
  expo_check.py value FILE NAME [LABEL=VALUE ...]   the one matching sample's value
  expo_check.py count FILE NAME [LABEL=VALUE ...]   how many samples match
  expo_check.py labels FILE NAME [LABEL=VALUE ...]  the matching sample's labels as JSON
  expo_check.py sub-compare FILE JSONL UUID         the exporter's figures of that
                                                    domain equal the last stats frame
                                                    stackmon-sub printed for it
"""
import json
import sys


def parse_labels(text, i):
    """Parses {a="x",b="y"} from text[i] == '{'; returns (dict, index after '}')."""
    labels, i = {}, i + 1
    while text[i] != "}":
        eq = text.index("=", i)
        name = text[i:eq]
        if text[eq + 1] != '"':
            raise ValueError("label %s: no opening quote" % name)
        j, value = eq + 2, []
        while text[j] != '"':
            if text[j] == "\\":
                nxt = text[j + 1]
                value.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                j += 2
            else:
                value.append(text[j])
                j += 1
        if name in labels:
            raise ValueError("label %s twice" % name)
        labels[name] = "".join(value)
        i = j + 1
        if text[i] == ",":
            i += 1
    return labels, i + 1


def samples(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            brace = line.find("{")
            space = line.find(" ")
            if brace != -1 and brace < space:
                name = line[:brace]
                labels, end = parse_labels(line, brace)
                rest = line[end:].strip()
            else:
                name, rest, labels = line[:space], line[space + 1:], {}
            yield name, labels, float(rest.split()[0])


def matching(path, name, wants):
    want = dict(w.split("=", 1) for w in wants)
    return [(l, v) for n, l, v in samples(path)
            if n == name and all(l.get(k) == x for k, x in want.items())]


def sub_compare(path, jsonl, uuid):
    last = None
    with open(jsonl, encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            if m.get("kind") != "stats":
                continue
            for d in m["domains"]:
                if d["uuid"] == uuid:
                    last = (m, d)
    if not last:
        sys.exit("no stats frame for %s in %s" % (uuid, jsonl))
    m, d = last
    checks = [
        ("stackmon_domain_cpu_seconds_total", {}, d["cpu_time_ns"] / 1e9),
        ("stackmon_domain_vcpus", {}, d["vcpus"]),
        ("stackmon_domain_state", {}, d["state"]),
        ("stackmon_domain_memory_total_bytes", {}, d["mem_total_kib"] * 1024),
        ("stackmon_node_memory_total_bytes", {}, m["node"]["mem_total_kib"] * 1024),
    ]
    for disk in d["disks"]:
        checks.append(("stackmon_domain_block_read_bytes_total", {"device": disk["name"]},
                       disk["rd_bytes"]))
        checks.append(("stackmon_domain_block_write_requests_total", {"device": disk["name"]},
                       disk["wr_req"]))
    for nic in d["nics"]:
        checks.append(("stackmon_domain_interface_receive_bytes_total", {"device": nic["name"]},
                       nic["rx_bytes"]))
        checks.append(("stackmon_domain_interface_transmit_packets_total",
                       {"device": nic["name"]}, nic["tx_packets"]))
    bad = 0
    for name, extra, want in checks:
        sel = {"host": m["host"]} if name.startswith("stackmon_node_") else {"uuid": uuid}
        sel.update(extra)
        got = [v for n, l, v in samples(path)
               if n == name and all(l.get(k) == x for k, x in sel.items())]
        if len(got) != 1 or abs(got[0] - want) > 1e-9 * max(1.0, abs(want)):
            print("MISMATCH %s %s: exporter %s, stackmon-sub %s" % (name, sel, got, want))
            bad += 1
    print("compared %d figures of %s (frame seq %s)" % (len(checks), uuid, m["seq"]))
    return 1 if bad else 0


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "sub-compare":
        return sub_compare(path, sys.argv[3], sys.argv[4])
    found = matching(path, sys.argv[3], sys.argv[4:])
    if cmd == "count":
        print(len(found))
        return 0
    if len(found) != 1:
        print("%d samples of %s %s" % (len(found), sys.argv[3], sys.argv[4:]), file=sys.stderr)
        return 1
    if cmd == "labels":
        print(json.dumps(found[0][0], ensure_ascii=False, sort_keys=True))
    else:
        v = found[0][1]
        print(int(v) if v == int(v) and abs(v) < 2**53 else repr(v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
