#!/usr/bin/env bash
# Runs every StackMon test, doing all set-up itself. On a fresh Debian 12
# machine, as root:   scripts/test.sh
#   1. installs the Debian packages (scripts/install-deps.sh),
#   2. builds with -Werror (build/),
#   3. starts libvirtd + virtlogd (scripts/libvirtd.sh) for the libvirt tests,
#   4. runs the whole ctest suite: unit, integration, real-QEMU, end-to-end,
#   5. runs each fuzz target for a short while (clang/libFuzzer): the wire
#      decoder, the collector's receive path, the aggregator's writer and the
#      exporter's intake,
#   6. rebuilds with ASan+UBSan (build-asan/) and runs the suite again there,
#   7. stops the services it started,
#   8. proves the README's two commands on a brand-new Debian 12 root
#      (scripts/clean-root-check.sh: mmdebstrap, then run-suite.sh --for 30
#      and test.sh --no-fuzz --no-asan inside it, in a private network).
# Options: --no-fuzz, --no-asan, --no-clean-root (quicker local runs);
# FUZZ_SECONDS per target (default 20). Inside a container the clean-root stage is
# skipped (it is what runs this script in one).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
fuzz=1 asan=1 clean_root=1
for a in "$@"; do
  case $a in
    --no-fuzz) fuzz=0 ;;
    --no-asan) asan=0 ;;
    --no-clean-root) clean_root=0 ;;
    *) echo "usage: $0 [--no-fuzz] [--no-asan] [--no-clean-root]" >&2; exit 2 ;;
  esac
done
jobs=$(nproc)
export STACKMON_REQUIRE_LIBVIRTD=1

step() { printf '\n==== %s ====\n' "$*"; }

step "packages"
scripts/install-deps.sh

step "build (strict)"
cmake -S . -B build -DSTACKMON_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

step "libvirtd"
started_libvirtd=0
if ! scripts/libvirtd.sh status >/dev/null 2>&1; then
  scripts/libvirtd.sh start
  started_libvirtd=1
fi
# A fresh libvirtd probes QEMU's capabilities (it runs QEMU) when first
# asked: done here, so that work does not land in a test's measuring window.
virsh -q -c qemu:///system domcapabilities >/dev/null 2>&1 || true
cleanup() {
  if ((started_libvirtd)); then scripts/libvirtd.sh stop || true; fi
}
trap cleanup EXIT

status=0
step "tests"
# Two at a time where the machine has the cores: most tests wait on their
# daemons' timers rather than compute. The CPU-bound ones (QEMU guests, the
# browser, the package builds and boots, the monitor's timing scenarios) are
# RUN_SERIAL in their CMakeLists and run alone.
ctest_jobs=$((jobs < 2 ? 1 : 2))
ctest --test-dir build --output-on-failure --timeout 600 -j"$ctest_jobs" || status=1

# Runs one libFuzzer target for FUZZ_SECONDS (default 20) from the shared
# seed corpus. A crash leaves its input in fuzz/regressions/ (check it in:
# it is then replayed by every test build).
fuzz_target() {
  local target=$1 work
  step "fuzz $target (${FUZZ_SECONDS:-20} s)"
  work=$(mktemp -d)
  cp fuzz/corpus/* "$work/"
  if ! "build-fuzz/fuzz/$target" -max_total_time="${FUZZ_SECONDS:-20}" \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$top/fuzz/regressions/" \
       "$work" 2>"build-fuzz/$target.log"; then
    tail -40 "build-fuzz/$target.log"
    echo "fuzz: $target failed (a crash leaves its input in fuzz/regressions/)" >&2
    status=1
  else
    grep -E 'stat::number_of_executed_units|Done' "build-fuzz/$target.log" || true
    echo "fuzz: $target: no crash"
  fi
  rm -rf "$work"
}

if ((fuzz)); then
  CC=clang cmake -S . -B build-fuzz -DSTACKMON_FUZZ=ON -DBUILD_TESTING=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  mkdir -p fuzz/regressions # git keeps no empty folder; libFuzzer needs it to exist
  for target in fuzz_wire_decode fuzz_collector_relay fuzz_aggregator_writer fuzz_exporter_intake \
                fuzz_carbon_lines fuzz_alert_eval fuzz_lv_wire; do
    cmake --build build-fuzz -j"$jobs" --target "$target"
    fuzz_target "$target"
  done
fi

if ((asan)); then
  step "sanitizer build (ASan + UBSan + LSan) and suite"
  cmake -S . -B build-asan -DSTACKMON_WERROR=ON -DSTACKMON_ASAN=ON -DSTACKMON_UBSAN=ON \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build-asan -j"$jobs"
  # One libvirtd serves both suites; should it have died in the first (it
  # has, once, after the monitor's fault scenario: tests/monitor/fault_test.py),
  # say so and start it again rather than fail every test of the second.
  if ! scripts/libvirtd.sh status >/dev/null 2>&1; then
    echo "test.sh: libvirtd stopped during the suite (see /var/log/libvirt/libvirtd.log);" \
      "starting it again for the sanitizer suite" >&2
    scripts/libvirtd.sh start
    started_libvirtd=1
  fi
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0 \
    ctest --test-dir build-asan --output-on-failure --timeout 900 -LE 'bench|slow' -j"$ctest_jobs" || status=1
fi

# The host's libvirtd is not needed by the clean root (which starts its own).
cleanup
started_libvirtd=0

if ((clean_root)) && [ -z "${container:-}" ]; then
  step "the README's commands on a brand-new Debian 12 root"
  rc=0
  scripts/clean-root-check.sh || rc=$?
  case $rc in
    0) ;;
    77) echo "clean root: skipped (see above)" ;;
    *) status=1 ;;
  esac
fi

step "result"
if ((status)); then echo "FAILED"; else echo "all tests passed"; fi
exit $status
