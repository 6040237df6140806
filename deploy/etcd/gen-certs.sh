#!/bin/sh
# Certificates for a TLS etcd cluster used by vxmesh managers (deploy/etcd/README.md).
#
# Usage: gen-certs.sh OUTDIR NAME=IP [NAME=IP ...]
#
# Writes into OUTDIR (created mode 0700; existing files are kept, so re-running adds members):
#   ca.pem, ca-key.pem                 the CA every member and client trusts (keep ca-key.pem offline)
#   NAME.pem, NAME-key.pem             member NAME: server and peer certificate for IP (and 127.0.0.1)
#   NAME-client.pem, NAME-client-key.pem  the vxmesh manager on host NAME: client certificate for
#                                      etcd's --client-cert-auth (vxmeshd --etcd-cert/--etcd-key)
# Keys are ECDSA P-256. Needs openssl (1.1.1 or later).
set -eu

if [ "$#" -lt 2 ]; then
  echo "usage: $0 OUTDIR NAME=IP [NAME=IP ...]" >&2
  exit 2
fi
out=$1
shift
for pair in "$@"; do
  case $pair in
    *=*) ;;
    *) echo "$0: '$pair' is not NAME=IP" >&2; exit 2 ;;
  esac
  name=${pair%%=*}
  case $name in
    '' | *[!A-Za-z0-9_.-]*) echo "$0: bad member name '$name'" >&2; exit 2 ;;
  esac
done

umask 077
mkdir -p "$out"
cd "$out"

if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca-key.pem -out ca.pem -days 3650 -subj "/CN=vxmesh etcd CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

# sign NAME CN SAN USAGE: NAME.pem and NAME-key.pem signed by the CA.
sign() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1-key.pem" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=$4" ${3:+"subjectAltName=$3"} >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
    -days 825 -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

for pair in "$@"; do
  name=${pair%%=*}
  ip=${pair#*=}
  if [ ! -f "$name.pem" ]; then
    sign "$name" "$name" "IP:$ip,IP:127.0.0.1,DNS:$name,DNS:localhost" "serverAuth,clientAuth"
  fi
  if [ ! -f "$name-client.pem" ]; then
    sign "$name-client" "vxmesh-manager-$name" "" "clientAuth"
  fi
done
rm -f ca.srl
ls -1 "$PWD"
