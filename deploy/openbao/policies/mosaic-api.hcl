# mosaic-api: the HTTP API encrypts the values it is given (credential create and rotate).
# It cannot decrypt a credential, rewrap, rotate or create keys: a compromised API reads no stored
# secret. The one thing it decrypts is its own federation signing key (mosaic-federation), to sign
# what it sends peers.

path "transit/encrypt/mosaic-credentials" {
  capabilities = ["update"]
}

path "transit/encrypt/mosaic-account-tokens" {
  capabilities = ["update"]
}

path "transit/encrypt/mosaic-llm-config" {
  capabilities = ["update"]
}

path "transit/encrypt/mosaic-federation" {
  capabilities = ["update"]
}

path "transit/decrypt/mosaic-federation" {
  capabilities = ["update"]
}
