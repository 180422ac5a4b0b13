# mosaic-worker: task workers decrypt a credential while running a task that declared it.
# They cannot encrypt, rewrap, rotate or create keys.

path "transit/decrypt/mosaic-credentials" {
  capabilities = ["update"]
}

path "transit/decrypt/mosaic-account-tokens" {
  capabilities = ["update"]
}

path "transit/decrypt/mosaic-llm-config" {
  capabilities = ["update"]
}

path "transit/decrypt/mosaic-federation" {
  capabilities = ["update"]
}
