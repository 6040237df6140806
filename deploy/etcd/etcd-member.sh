#!/bin/sh
# Prints the /etc/default/etcd of one member of a TLS etcd cluster for vxmesh, for Debian's
# etcd-server package (its systemd unit reads ETCD_* variables from that file).
#
# Usage: etcd-member.sh NAME PKI_DIR DATA_DIR NAME1=IP1 NAME2=IP2 NAME3=IP3 > /etc/default/etcd
#
# NAME must be one of the NAMEi; PKI_DIR holds ca.pem, NAME.pem and NAME-key.pem from
# gen-certs.sh (readable by the etcd user); DATA_DIR is this member's data directory. Clients
# and peers must present a certificate signed by the CA (--client-cert-auth, --peer-client-cert-auth).
set -eu

if [ "$#" -lt 4 ]; then
  echo "usage: $0 NAME PKI_DIR DATA_DIR NAME1=IP1 [NAME2=IP2 ...]" >&2
  exit 2
fi
self=$1
pki=$2
data=$3
shift 3

cluster=''
ip=''
for pair in "$@"; do
  name=${pair%%=*}
  addr=${pair#*=}
  cluster="$cluster${cluster:+,}$name=https://$addr:2380"
  if [ "$name" = "$self" ]; then
    ip=$addr
  fi
done
if [ -z "$ip" ]; then
  echo "$0: $self is not among the members" >&2
  exit 2
fi

cat <<CONF
# etcd member $self of a vxmesh control-plane cluster (deploy/etcd/README.md).
ETCD_NAME=$self
ETCD_DATA_DIR=$data
ETCD_LISTEN_CLIENT_URLS=https://$ip:2379,https://127.0.0.1:2379
ETCD_ADVERTISE_CLIENT_URLS=https://$ip:2379
ETCD_LISTEN_PEER_URLS=https://$ip:2380
ETCD_INITIAL_ADVERTISE_PEER_URLS=https://$ip:2380
ETCD_INITIAL_CLUSTER=$cluster
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_INITIAL_CLUSTER_TOKEN=vxmesh-etcd
ETCD_CERT_FILE=$pki/$self.pem
ETCD_KEY_FILE=$pki/$self-key.pem
ETCD_TRUSTED_CA_FILE=$pki/ca.pem
ETCD_CLIENT_CERT_AUTH=true
ETCD_PEER_CERT_FILE=$pki/$self.pem
ETCD_PEER_KEY_FILE=$pki/$self-key.pem
ETCD_PEER_TRUSTED_CA_FILE=$pki/ca.pem
ETCD_PEER_CLIENT_CERT_AUTH=true
# vxmesh does not compact etcd's history itself; keep one hour of it (watchers that fall further
# behind re-list, which vxmesh handles).
ETCD_AUTO_COMPACTION_MODE=periodic
ETCD_AUTO_COMPACTION_RETENTION=1h
CONF
