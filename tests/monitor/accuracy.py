"""The monitor's published rates against libvirt's own counters over one
window: shared by tests/monitor/qemu_test.py (which asserts 5 %) and
bench/evaluation/run.sh (which tabulates the differences).

A stale domain record (its sample missed the frame) repeats its last rates;
the next fresh sample's rates cover the whole time since the previous one. So
a window's mean weighs each fresh record by the time since the last fresh one
(weighted_mean); libvirt's figure is the growth of its counter over the
window's length (counter_rate).
"""


def fresh_weighted(records, start_time):
    """records: [(frame_time, domain_record_or_None)] in arrival order, after
    a frame at start_time. Returns [(record, weight_seconds)] of the fresh
    records, each weighing the time since the previous fresh one."""
    out, last = [], start_time
    for t, d in records:
        if d is not None and not d["stale"]:
            out.append((d, t - last))
            last = t
    return out


def weighted_mean(fresh, rate):
    """Mean of rate(record) over fresh_weighted's output; None if empty or a
    rate is unknown."""
    vals = [(rate(d), w) for d, w in fresh]
    total = sum(w for _, w in vals)
    if not vals or total <= 0 or any(v is None for v, _ in vals):
        return None
    return sum(v * w for v, w in vals) / total


def counter_rate(ref0, ref1, key, dt):
    """Growth per second of libvirt's counter `key` (virsh domstats) over dt s."""
    return (int(ref1[key]) - int(ref0[key])) / dt


def difference_pct(got, want):
    """|got - want| in % of want (inf when want is 0)."""
    return abs(got - want) / want * 100 if want else float("inf")
