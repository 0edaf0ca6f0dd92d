#!/bin/sh
# certs.sh - certificates for a Causeway deployment, with the openssl
# command line: a deployment CA, one certificate per DC and one for
# clients. For tests, the demo and first users; docs/security.md says how
# to use an organisation's own CA instead.
#
#   tools/certs.sh [--expired] [--days N] DIR NDC [NAME...]
#
# In DIR: ca.crt and ca.key (made only if DIR has none: run it again to
# add certificates signed by the same CA), dc-<i>.crt and dc-<i>.key for
# i in 0..NDC-1, client.crt and client.key, and NAME.crt/NAME.key for each
# extra NAME (e.g. dc-9). Every certificate names itself in its CN and in
# a DNS SAN (a DC's also names localhost, 127.0.0.1 and ::1, so clients on
# the same machine verify it), with EC P-256 keys. Existing certificates are
# kept. --expired makes the new ones already expired (for tests); --days
# sets their lifetime (default 825).
set -eu

usage() {
	echo "usage: tools/certs.sh [--expired] [--days N] DIR NDC [NAME...]" >&2
	exit 2
}
days=825
while [ $# -gt 0 ]; do
	case "$1" in
	--expired) days=-1; shift ;;
	--days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
	-h|--help)
		sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	--*) usage ;;
	*) break ;;
	esac
done
[ $# -ge 2 ] || usage
dir=$1
ndc=$2
shift 2
case "$ndc" in
'' | *[!0-9]*) echo "certs.sh: NDC must be a number" >&2; exit 2 ;;
esac
command -v openssl >/dev/null || {
	echo "certs.sh: openssl not found (apt-get install -y openssl)" >&2
	exit 1
}
mkdir -p "$dir"
umask 077

key() {
	openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null
}

if [ ! -f "$dir/ca.crt" ]; then
	key "$dir/ca.key"
	openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 \
		-subj "/O=Causeway/CN=Causeway deployment CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$dir/ca.crt" 2>/dev/null
fi

# cert NAME SAN
cert() {
	name=$1
	san=$2
	[ -f "$dir/$name.crt" ] && return 0
	key "$dir/$name.key"
	ext=$(mktemp)
	cat > "$ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EOF
	openssl req -new -key "$dir/$name.key" -subj "/O=Causeway/CN=$name" \
		-out "$dir/$name.csr" 2>/dev/null
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" \
		-CAkey "$dir/ca.key" -CAcreateserial -sha256 -days "$days" \
		-extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
	rm -f "$ext" "$dir/$name.csr"
}

# A DC's names: its id, and this machine for clients. mbedTLS 2.28 (which
# the SDK and nng use) matches no IP-address SANs, so the loopback
# addresses are written as DNS names too.
dc_san() {
	echo "DNS:$1,DNS:localhost,IP:127.0.0.1,IP:::1,DNS:127.0.0.1,DNS:::1"
}

i=0
while [ "$i" -lt "$ndc" ]; do
	cert "dc-$i" "$(dc_san "dc-$i")"
	i=$((i + 1))
done
cert client "DNS:client"
for n in "$@"; do
	cert "$n" "$(dc_san "$n")"
done
chmod 644 "$dir"/*.crt
