#!/usr/bin/env sh
# init.sh: make a fresh OpenBao ready for Mosaic, idempotently (run it again at any time):
#   1. initialise (5 unseal key shares, threshold 3) and unseal;
#   2. enable Transit at transit/ and create the four keys, derived (each encryption bound to a
#      context: workspace id and credential id);
#   3. write the least-privilege policies in ./policies (API: encrypt; workers: decrypt; rotation
#      agent: rewrap, rotate, minimum versions, trim; nobody creates keys);
#   4. enable AppRole and give each Mosaic process a role, writing its role id and a secret id to
#      out/<role>.env for MOSAIC_OPENBAO_ROLE_ID and MOSAIC_OPENBAO_SECRET_ID (kept across re-runs
#      while OpenBao still knows it).
#
# The unseal keys and the root token land in out/init.json (mode 600). That is a turnkey start,
# not a production custody: hand the shares to separate people (or use auto-unseal), then revoke
# the root token (`bao token revoke <root>`; `bao operator generate-root` makes a new one when
# needed).
#
# Environment: BAO_ADDR (default https://openbao:8200), BAO_CACERT (default /openbao/tls/ca.crt;
# set it empty for a server whose certificate the system's CAs verify, or for plain http),
# BAO_TOKEN (a token that may do all of the above, for a server initialised and unsealed
# elsewhere: then no out/init.json is needed), OUT (default /openbao/out), POLICIES (default
# /openbao/policies).
set -eu

export BAO_ADDR="${BAO_ADDR:-https://openbao:8200}"
BAO_CACERT="${BAO_CACERT-/openbao/tls/ca.crt}"
if [ -z "$BAO_CACERT" ]; then
  unset BAO_CACERT
elif [ -f "$BAO_CACERT" ]; then
  export BAO_CACERT
else
  printf 'openbao-init: BAO_CACERT=%s does not exist (set BAO_CACERT= to use the system CAs, or plain http)\n' "$BAO_CACERT" >&2
  exit 1
fi
OUT="${OUT:-/openbao/out}"
POLICIES="${POLICIES:-/openbao/policies}"
KEYS="mosaic-credentials mosaic-account-tokens mosaic-llm-config mosaic-federation"
ROLES="mosaic-api mosaic-worker mosaic-rotation"

log() { printf 'openbao-init: %s\n' "$*" >&2; }
umask 077
mkdir -p "$OUT"

# bao status exits 0 when unsealed, 2 when sealed or uninitialised, 1 on error.
tries=0
until bao status >/dev/null 2>&1 || [ $? -eq 2 ]; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { log "no OpenBao at $BAO_ADDR after 60 s"; exit 1; }
  sleep 1
done

if bao status -format=json | grep -q '"initialized": *false'; then
  log "initialising"
  bao operator init -key-shares=5 -key-threshold=3 -format=json >"$OUT/init.json"
fi
if [ ! -s "$OUT/init.json" ]; then
  # Initialised elsewhere: fine with a token, once unsealed.
  [ -n "${BAO_TOKEN:-}" ] || { log "OpenBao is initialised but $OUT/init.json is missing: set BAO_TOKEN (and unseal it)"; exit 1; }
  if bao status -format=json | grep -q '"sealed": *true'; then
    log "OpenBao is sealed and $OUT/init.json is missing: unseal it with its shares, then run this again"
    exit 1
  fi
elif bao status -format=json | grep -q '"sealed": *true'; then
  log "unsealing"
  # The shares are the unseal_keys_b64 array; take the first three.
  tr -d '\n ' <"$OUT/init.json" | sed 's/.*"unseal_keys_b64":\[\([^]]*\)\].*/\1/' | tr ',' '\n' | tr -d '"' | head -n 3 |
    while read -r share; do bao operator unseal "$share" >/dev/null; done
fi

export BAO_TOKEN="${BAO_TOKEN:-$(tr -d '\n' <"$OUT/init.json" | sed 's/.*"root_token": *"\([^"]*\)".*/\1/')}"

if ! bao secrets list -format=json | grep -q '"transit/"'; then
  log "enabling Transit at transit/"
  bao secrets enable -path=transit transit >/dev/null
fi

for key in $KEYS; do
  if bao read -format=json "transit/keys/$key" >/dev/null 2>&1; then
    bao read -format=json "transit/keys/$key" | grep -q '"derived": *true' ||
      { log "transit/keys/$key exists but is not derived: Mosaic needs derived keys"; exit 1; }
  else
    log "creating key $key (aes256-gcm96, derived)"
    bao write -f "transit/keys/$key" type=aes256-gcm96 derived=true >/dev/null
  fi
done

for role in $ROLES; do
  bao policy write "$role" "$POLICIES/$role.hcl" >/dev/null
done
log "policies written: $ROLES"

if ! bao auth list -format=json | grep -q '"approle/"'; then
  bao auth enable approle >/dev/null
fi

# One role per process kind, and mosaic-all for a single process that is all three (mosaic dev).
# Tokens live an hour and are renewed by Mosaic at half their TTL, up to a day; they keep the
# default policy (token_no_default_policy=false), without which a token cannot look itself up and
# Mosaic stops at start. A secret id does not expire here; a re-run keeps the one in out/<role>.env
# while OpenBao still knows it, so re-runs do not pile up live secret ids (rotate one on purpose:
# delete out/<role>.env, run this again, then destroy the old id with
# bao write auth/approle/role/<r>/secret-id/destroy secret_id=<old>).
approle() { # approle NAME POLICIES
  bao write "auth/approle/role/$1" token_policies="$2" token_ttl=1h token_max_ttl=24h \
    secret_id_ttl=0 token_no_default_policy=false >/dev/null
  role_id=$(bao read -field=role_id "auth/approle/role/$1/role-id")
  secret_id=""
  if [ -s "$OUT/$1.env" ]; then
    secret_id=$(sed -n 's/^MOSAIC_OPENBAO_SECRET_ID=//p' "$OUT/$1.env")
    if [ -n "$secret_id" ] && ! bao write -format=json "auth/approle/role/$1/secret-id/lookup" secret_id="$secret_id" 2>/dev/null | grep -q '"data"'; then
      secret_id="" # no longer known: make a new one
    fi
  fi
  [ -n "$secret_id" ] || secret_id=$(bao write -f -field=secret_id "auth/approle/role/$1/secret-id")
  printf 'MOSAIC_OPENBAO_ADDR=%s\nMOSAIC_OPENBAO_ROLE_ID=%s\nMOSAIC_OPENBAO_SECRET_ID=%s\n' \
    "$BAO_ADDR" "$role_id" "$secret_id" >"$OUT/$1.env"
  log "AppRole $1 ($2): $OUT/$1.env"
}
for role in $ROLES; do approle "$role" "$role"; done
approle mosaic-all "mosaic-api,mosaic-worker,mosaic-rotation"

log "ready: Transit keys $KEYS"
