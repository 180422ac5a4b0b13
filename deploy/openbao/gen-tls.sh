#!/usr/bin/env sh
# gen-tls.sh: a private CA and a server certificate for OpenBao (names openbao, localhost,
# 127.0.0.1), written to ./tls. Mosaic verifies the server with --openbao-ca tls/ca.crt.
# For production, use your organisation's CA instead.
set -eu
cd "$(dirname "$0")"
mkdir -p tls
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
  -subj "/CN=Mosaic OpenBao CA" -keyout tls/ca.key -out tls/ca.crt 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=openbao" -keyout tls/server.key -out tls/server.csr 2>/dev/null
printf 'subjectAltName=DNS:openbao,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > tls/server.ext
openssl x509 -req -in tls/server.csr -CA tls/ca.crt -CAkey tls/ca.key -CAcreateserial \
  -days 825 -extfile tls/server.ext -out tls/server.crt 2>/dev/null
rm -f tls/server.csr tls/server.ext tls/ca.srl
# The server runs as the image's openbao user, which must read the key through the bind mount:
# on a shared host, chown it to that user instead of opening it up.
chmod 644 tls/ca.crt tls/server.crt
chmod 644 tls/server.key
echo "gen-tls: wrote tls/ca.crt, tls/server.crt, tls/server.key"
