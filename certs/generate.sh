#!/usr/bin/env bash
#
# Regenerates the tlsock test PKI into the directory this script lives in.
#
# Uses only the openssl CLI. Every run creates fresh keys and certificates
# (same file names every time) and overwrites the previous ones; running it
# twice is fine. All scratch state (CSRs, openssl ca databases, serial files,
# configs) lives in a temporary directory that is removed on exit.
#
# See README.md for what each generated file is for.

set -euo pipefail

OUT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tlsock-certs.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# Keep the system openssl.cnf out of the picture; every command that needs a
# config gets ours explicitly.
export OPENSSL_CONF="$WORK/openssl.cnf"

GOOD_START=20000101000000Z
GOOD_END=20991231235959Z
EXPIRED_START=20000101000000Z
EXPIRED_END=20010102000000Z
FUTURE_START=20900101000000Z

PASSWORD=tlsock

# Files that older versions of this script may have produced under another
# name (the weak DH file is named after its real size).
rm -f "$OUT"/dh512.pem "$OUT"/dh768.pem "$OUT"/dh1024.pem

# --------------------------------------------------------------------------
# Throwaway openssl configuration
# --------------------------------------------------------------------------

CAS=(root intermediate untrusted self)

{
    cat <<'EOF'
# Minimal throwaway config written by certs/generate.sh.
[ req ]
distinguished_name = req_dn
prompt             = no
utf8               = yes
string_mask        = utf8only

[ req_dn ]
CN = placeholder

[ policy_any ]
commonName             = supplied
organizationName       = optional
organizationalUnitName = optional
countryName            = optional
EOF
    for ca in "${CAS[@]}"; do
        mkdir -p "$WORK/ca-$ca/newcerts"
        : > "$WORK/ca-$ca/index.txt"
        echo 01 > "$WORK/ca-$ca/serial"
        cat <<EOF

[ ca_$ca ]
dir             = $WORK/ca-$ca
database        = \$dir/index.txt
new_certs_dir   = \$dir/newcerts
serial          = \$dir/serial
default_md      = sha256
policy          = policy_any
unique_subject  = no
copy_extensions = none
email_in_dn     = no
preserve        = yes
EOF
    done
} > "$WORK/openssl.cnf"

cat > "$WORK/ext.cnf" <<'EOF'
[ v3_root ]
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ v3_intermediate ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_server ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

# keyEncipherment is not allowed for EC keys (RFC 5480 section 3); ECDHE-ECDSA
# only needs digitalSignature.
[ v3_server_ecdsa ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_wrong_host ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:wrong.example, DNS:other.example
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_wildcard ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:*.example.test, DNS:example.test
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_bad_key_usage ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, keyCertSign
extendedKeyUsage       = clientAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_client ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_self_signed ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
EOF

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

# new_rsa_key NAME -> $OUT/NAME.key (RSA 2048, unencrypted PKCS#8 PEM)
new_rsa_key() {
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -out "$OUT/$1.key" 2>/dev/null
}

# new_ec_key NAME -> $OUT/NAME.key (EC P-256, named curve, PKCS#8 PEM)
new_ec_key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -pkeyopt ec_param_enc:named_curve -out "$OUT/$1.key"
}

# issue NAME CN CA EXT_SECTION START END MD
#   Signs a CSR for $OUT/NAME.key with CN=CN and writes $OUT/NAME.pem.
#   CA is one of: root, intermediate, untrusted (signing CA), or self
#   (self-signed with the certificate's own key).
issue() {
    local name=$1 cn=$2 ca=$3 ext=$4 start=$5 end=$6 md=$7
    local csr="$WORK/$name.csr"
    local -a signer

    openssl req -new -key "$OUT/$name.key" -subj "/CN=$cn" -out "$csr"

    case $ca in
        root)         signer=(-cert "$OUT/root-ca.pem" -keyfile "$OUT/root-ca.key") ;;
        intermediate) signer=(-cert "$OUT/intermediate-ca.pem" -keyfile "$OUT/intermediate-ca.key") ;;
        untrusted)    signer=(-cert "$OUT/untrusted-root-ca.pem" -keyfile "$OUT/untrusted-root-ca.key") ;;
        self)         signer=(-selfsign -keyfile "$OUT/$name.key") ;;
        *) echo "unknown CA: $ca" >&2; return 1 ;;
    esac

    openssl ca -batch -notext -config "$OPENSSL_CONF" -name "ca_$ca" \
        "${signer[@]}" -rand_serial -md "$md" \
        -startdate "$start" -enddate "$end" \
        -extfile "$WORK/ext.cnf" -extensions "$ext" \
        -in "$csr" -out "$OUT/$name.pem" 2>"$WORK/ca.log" \
        || { cat "$WORK/ca.log" >&2; return 1; }
}

# chain NAME -> $OUT/NAME-chain.pem = leaf followed by the intermediate
chain() {
    cat "$OUT/$1.pem" "$OUT/intermediate-ca.pem" > "$OUT/$1-chain.pem"
}

# --------------------------------------------------------------------------
# CAs
# --------------------------------------------------------------------------

new_rsa_key root-ca
issue root-ca "tlsock Test Root CA" self v3_root "$GOOD_START" "$GOOD_END" sha256

new_rsa_key intermediate-ca
issue intermediate-ca "tlsock Test Intermediate CA" root v3_intermediate "$GOOD_START" "$GOOD_END" sha256

new_rsa_key untrusted-root-ca
issue untrusted-root-ca "tlsock Untrusted Root CA" self v3_root "$GOOD_START" "$GOOD_END" sha256

cp "$OUT/root-ca.pem" "$OUT/ca-bundle.pem"

# --------------------------------------------------------------------------
# Server leaves signed by the intermediate
# --------------------------------------------------------------------------

new_rsa_key localhost
issue localhost localhost intermediate v3_server "$GOOD_START" "$GOOD_END" sha256
chain localhost

new_ec_key localhost-ecdsa
issue localhost-ecdsa localhost intermediate v3_server_ecdsa "$GOOD_START" "$GOOD_END" sha256
chain localhost-ecdsa

new_rsa_key expired
issue expired localhost intermediate v3_server "$EXPIRED_START" "$EXPIRED_END" sha256
chain expired

new_rsa_key not-yet-valid
issue not-yet-valid localhost intermediate v3_server "$FUTURE_START" "$GOOD_END" sha256
chain not-yet-valid

new_rsa_key wrong-host
issue wrong-host wrong.example intermediate v3_wrong_host "$GOOD_START" "$GOOD_END" sha256
chain wrong-host

new_rsa_key wildcard
issue wildcard "*.example.test" intermediate v3_wildcard "$GOOD_START" "$GOOD_END" sha256
chain wildcard

new_rsa_key sha1
issue sha1 localhost intermediate v3_server "$GOOD_START" "$GOOD_END" sha1
chain sha1

new_rsa_key bad-key-usage
issue bad-key-usage localhost intermediate v3_bad_key_usage "$GOOD_START" "$GOOD_END" sha256
chain bad-key-usage

# --------------------------------------------------------------------------
# Self-signed leaf and the untrusted hierarchy
# --------------------------------------------------------------------------

new_rsa_key self-signed
issue self-signed localhost self v3_self_signed "$GOOD_START" "$GOOD_END" sha256

new_rsa_key untrusted
issue untrusted localhost untrusted v3_server "$GOOD_START" "$GOOD_END" sha256
# Signed directly by the untrusted root: the "chain" is the leaf alone.
cp "$OUT/untrusted.pem" "$OUT/untrusted-chain.pem"

# --------------------------------------------------------------------------
# Client certificate
# --------------------------------------------------------------------------

new_rsa_key client
issue client "tlsock Test Client" intermediate v3_client "$GOOD_START" "$GOOD_END" sha256
chain client

# Password "tlsock". PBES2 with PBKDF2-HMAC-SHA256 and DES-EDE3-CBC: mbedTLS
# 2.28's PKCS#5 code only knows DES/3DES as PBES2 ciphers (AES arrived in
# 3.5), so an AES-encrypted key could not be loaded by the library.
openssl pkcs8 -topk8 -v2 des3 -v2prf hmacWithSHA256 \
    -in "$OUT/client.key" -passout "pass:$PASSWORD" -out "$OUT/client-encrypted.key"

# --------------------------------------------------------------------------
# DER forms
# --------------------------------------------------------------------------

openssl x509 -in "$OUT/localhost.pem" -outform DER -out "$OUT/localhost.der"
openssl pkcs8 -topk8 -nocrypt -in "$OUT/localhost.key" -outform DER -out "$OUT/localhost.key.der"

# --------------------------------------------------------------------------
# DH parameters
# --------------------------------------------------------------------------

openssl dhparam -out "$OUT/dh2048.pem" 2048 2>/dev/null
openssl dhparam -out "$OUT/dh512.pem" 512 2>/dev/null

chmod 0644 "$OUT"/*.pem "$OUT"/*.key "$OUT"/*.der

echo "tlsock test PKI written to $OUT"
