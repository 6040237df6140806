#!/usr/bin/env bash
# Boots the VM built by build.sh and reports. Exit 0 iff every in-VM check passed.
# Adapted from the shared ../shared/ipsec-vm/run.sh.
# Env: WORK (same as build.sh), ACCEL=auto|kvm|tcg (default auto), TIMEOUT (s, default 240),
#      MEM (default 1G), BENCH=1 (also run iperf3 plain vs encrypted; slow under TCG)
set -uo pipefail
WORK=${WORK:-${TMPDIR:-/tmp}/vxmesh-ipsec-vm}
ACCEL=${ACCEL:-auto}; TIMEOUT=${TIMEOUT:-240}; MEM=${MEM:-1G}
[ -f "$WORK/vmlinuz" ] && [ -f "$WORK/initramfs.cpio.gz" ] || { echo "run build.sh first" >&2; exit 2; }
APPEND="console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init${EXTRA_APPEND:+ $EXTRA_APPEND}"
[ "${BENCH:-0}" = 1 ] && APPEND="$APPEND vxmesh.bench=1"

boot() { # $1 = name; the rest: accel args. Console: $WORK/console-<name>.log
  local name=$1; shift
  local log="$WORK/console-$name.log" t0 t1
  t0=$(date +%s.%N)
  timeout "$TIMEOUT" qemu-system-x86_64 "$@" -m "$MEM" -smp 1 -nographic -no-reboot -nic none \
    -kernel "$WORK/vmlinuz" -initrd "$WORK/initramfs.cpio.gz" -append "$APPEND" </dev/null >"$log" 2>&1
  local rc=$?
  t1=$(date +%s.%N)
  echo "[$name] qemu rc=$rc wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s log=$log"
  grep -a 'IPSEC-VM:' "$log"
  grep -aq 'IPSEC-VM: DONE pass=[0-9]* fail=0' "$log"
}

kvm_usable() {
  [ -w /dev/kvm ] || { echo "no writable /dev/kvm"; return 1; }
  # PVM ("kvm_pvm") runs only PVM-enabled guest kernels; the stock Debian kernel hangs there.
  [ -d /sys/module/kvm_pvm ] && { echo "host KVM is PVM (kvm_pvm): stock kernels do not boot"; return 1; }
  return 0
}

case "$ACCEL" in
  kvm) boot kvm -enable-kvm -cpu host,-arch-capabilities ;;
  tcg) boot tcg -accel tcg -cpu max ;;
  auto)
    if why=$(kvm_usable); then
      TIMEOUT=${KVM_TIMEOUT:-90} boot kvm -enable-kvm -cpu host,-arch-capabilities && exit 0
      echo "KVM run failed; falling back to TCG"
    else
      echo "KVM skipped: $why"
    fi
    boot tcg -accel tcg -cpu max ;;
  *) echo "ACCEL must be auto|kvm|tcg" >&2; exit 2 ;;
esac
