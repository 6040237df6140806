#!/bin/busybox sh
# PID 1 of the IPsec test VM (copied to /init by build.sh): loads the modules except esp4 (the
# agent's probe must first fail closed without it), then runs the agent's own dataplane code
# against two simulated nodes (guest-check.ts, which prints the IPSEC-VM markers run.sh parses),
# then powers off.
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /usr/bin /usr/sbin /sbin /bin
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
rmdir /var/run 2>/dev/null; ln -sfn /run /var/run
echo "IPSEC-VM: init-start uptime=$(cut -d' ' -f1 /proc/uptime)s"

KVER=$(uname -r)
# No automatic module loading until the guest check has seen the probe fail without esp4.
echo /bin/false > /proc/sys/kernel/modprobe
: > /etc/late-modules
while read -r m; do
  case "$m" in
    */esp4.ko*) echo "/lib/modules/$KVER/$m" >> /etc/late-modules ;;
    *) insmod "/lib/modules/$KVER/$m" 2>/dev/null || echo "note: insmod $m failed (non-fatal: e.g. jitterentropy_rng under TCG)" ;;
  esac
done < /etc/modload.list
echo "IPSEC-VM: modules-loaded uptime=$(cut -d' ' -f1 /proc/uptime)s"

VXMESH_LOG=${VXMESH_LOG:-warn} LATE_MODULES=/etc/late-modules node /vxmesh/guest-check.mjs
echo "IPSEC-VM: exit rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)s"
sync; poweroff -f
