#!/usr/bin/env bash
# Builds the IPsec test VM: Debian's stock kernel (which has ESP and GCM; the development kernel
# has neither) plus a busybox initramfs carrying Node and the agent's own dataplane code, bundled
# from this checkout (guest-check.ts). Adapted from the shared ../shared/ipsec-vm/build.sh.
#
# Needs: Debian 12 (bookworm) host, root, Node >= 20 and `npm ci` done in the checkout.
# Downloads nothing except Debian packages through apt-get (the kernel .deb, cached in $WORK).
#
# Usage:   sudo test/ipsec/vm/build.sh        # -> $WORK/vmlinuz, $WORK/initramfs.cpio.gz
#          sudo test/ipsec/vm/run.sh          # boots it and checks the result
# Env:     WORK=<dir>   (default: ${TMPDIR:-/tmp}/vxmesh-ipsec-vm)
#          SKIP_APT=1   (do not apt-get install host tools; they must already be there)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/vxmesh-ipsec-vm}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# Host tools. busybox-static: PID 1 + shell utilities inside the VM. iproute2/tcpdump/nftables:
# their binaries are copied (with libs) into the VM; iperf3 too when present (the bench).
HOST_PKGS="qemu-system-x86 kmod cpio busybox-static iproute2 tcpdump nftables netbase"
if [ "${SKIP_APT:-0}" != 1 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $HOST_PKGS
fi

# The kernel package behind the metapackage (e.g. linux-image-6.1.0-56-amd64), downloaded but not
# installed: the host's /boot and /lib/modules stay untouched.
KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$KPKG" ] || { echo "cannot resolve linux-image-amd64 dependency" >&2; exit 1; }
KVER=${KPKG#linux-image-}
cd "$WORK"
if ! ls "${KPKG}"_*_amd64.deb >/dev/null 2>&1; then
  rm -f linux-image-*_amd64.deb   # an older cached kernel
  apt-get download "$KPKG"
fi
DEB=$(ls "${KPKG}"_*_amd64.deb | head -n1)
rm -rf kroot && mkdir kroot
dpkg-deb -x "$DEB" kroot
if [ -d "kroot/lib/modules/$KVER" ]; then MODREL=lib/modules/$KVER; else MODREL=usr/lib/modules/$KVER; fi
[ -d "kroot/$MODREL" ] || { echo "no modules dir in $DEB" >&2; exit 1; }
echo "kernel package: $DEB  version: $KVER  modules: $MODREL"

depmod -b "$WORK/kroot" "$KVER"
# esp4 last: init.sh leaves it out, so the guest first sees the agent's probe fail closed, then
# loads it. nft_dup_ipv4 duplicates ESP packets for the replay check.
WANT="veth bridge vxlan xfrm_user xfrm_algo gcm ctr ghash_generic seqiv echainiv
      drbg jitterentropy_rng aesni_intel ghash_clmulni_intel nf_tables nft_objref nft_xfrm nft_dup_ipv4 esp4"
: > modload.list
for m in $WANT; do
  modprobe -d "$WORK/kroot" -S "$KVER" --show-depends "$m" | awk '$1=="insmod" {print $2}'
done | awk '!seen[$0]++' | sed "s|^$WORK/kroot/$MODREL/||" > modload.list
echo "modules to load (dependency order):"; sed 's/^/  /' modload.list

R="$WORK/initramfs"
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,var,root,lib64,vxmesh} "$R/lib/modules/$KVER"
cp /bin/busybox "$R/bin/busybox"

copy_with_libs() {   # a dynamically linked binary and every library ldd reports
  local bin=$1 lib
  mkdir -p "$R$(dirname "$bin")"; cp -L "$bin" "$R$bin"
  for lib in $(ldd "$bin" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
    mkdir -p "$R$(dirname "$lib")"; cp -Ln "$lib" "$R$lib"
  done
}
copy_with_libs /usr/sbin/ip
copy_with_libs /usr/sbin/bridge
copy_with_libs /usr/bin/tcpdump
copy_with_libs /usr/sbin/nft
NODE=$(readlink -f "$(command -v node)")
copy_with_libs "$NODE"
[ "$NODE" = /usr/bin/node ] || ln -sf "$NODE" "$R/usr/bin/node"
if command -v iperf3 >/dev/null; then copy_with_libs "$(readlink -f "$(command -v iperf3)")"; fi

while read -r rel; do
  mkdir -p "$R/lib/modules/$KVER/$(dirname "$rel")"
  cp "kroot/$MODREL/$rel" "$R/lib/modules/$KVER/$rel"
done < modload.list
cp "kroot/$MODREL"/modules.builtin* "kroot/$MODREL/modules.order" "$R/lib/modules/$KVER/"
depmod -b "$R" "$KVER"
cp modload.list "$R/etc/modload.list"
for f in /etc/protocols /etc/services; do [ -f "$f" ] && cp "$f" "$R$f"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"
cp "$HERE/init.sh" "$R/init"; chmod 755 "$R/init"

# The agent's dataplane code, bundled from this checkout (the CLI is bundled the same way).
"$REPO/node_modules/.bin/esbuild" "$HERE/guest-check.ts" --bundle --platform=node --target=node20 --format=esm \
  --log-level=warning --outfile="$R/vxmesh/guest-check.mjs" \
  "--banner:js=import { createRequire as vxmeshCreateRequire } from 'node:module'; const require = vxmeshCreateRequire(import.meta.url);"

(cd "$R" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$WORK/initramfs.cpio.gz"
cp "kroot/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
rm -rf kroot "$R"      # the unpacked kernel (~400 MB) and tree; the .deb stays as a cache
echo "built: $WORK/vmlinuz ($(du -h "$WORK/vmlinuz" | cut -f1)), $WORK/initramfs.cpio.gz ($(du -h "$WORK/initramfs.cpio.gz" | cut -f1))"
