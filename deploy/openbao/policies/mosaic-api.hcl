# mosaic-api: the HTTP API encrypts the values it is given (credential create and rotate).
# It cannot decrypt, rewrap, rotate or create keys: a compromised API reads no stored secret.

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
