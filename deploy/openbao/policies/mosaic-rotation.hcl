# mosaic-rotation: the rotation agent (workers on the CREDENTIALS stream).
# Staged secret rotation encrypts the pending value and decrypts the current one to set and test
# it at the provider; key rotation rotates a key, rewraps every ciphertext, then raises
# min_decryption_version (and min_encryption_version with it) and trims the versions below: raising
# the minimum alone is reversible in OpenBao, a trim is not (the server then refuses a minimum
# below the trimmed versions, to this role as to any). Reading a key shows its versions, never
# its material. No policy may write transit/keys/<name> itself, so nobody creates (or re-creates)
# a key at runtime.

path "transit/encrypt/mosaic-credentials" {
  capabilities = ["update"]
}

path "transit/decrypt/mosaic-credentials" {
  capabilities = ["update"]
}

path "transit/rewrap/mosaic-credentials" {
  capabilities = ["update"]
}

path "transit/keys/mosaic-credentials" {
  capabilities = ["read"]
}

path "transit/keys/mosaic-credentials/rotate" {
  capabilities = ["update"]
}

path "transit/keys/mosaic-credentials/config" {
  capabilities = ["update"]
  # only the minimum versions: not exportable, not deletion_allowed
  allowed_parameters = {
    "min_decryption_version" = []
    "min_encryption_version" = []
  }
}

path "transit/keys/mosaic-credentials/trim" {
  capabilities = ["update"]
  allowed_parameters = {
    "min_available_version" = []
  }
}

path "transit/rewrap/mosaic-account-tokens" {
  capabilities = ["update"]
}

path "transit/keys/mosaic-account-tokens" {
  capabilities = ["read"]
}

path "transit/keys/mosaic-account-tokens/rotate" {
  capabilities = ["update"]
}

path "transit/keys/mosaic-account-tokens/config" {
  capabilities = ["update"]
  # only the minimum versions: not exportable, not deletion_allowed
  allowed_parameters = {
    "min_decryption_version" = []
    "min_encryption_version" = []
  }
}

path "transit/keys/mosaic-account-tokens/trim" {
  capabilities = ["update"]
  allowed_parameters = {
    "min_available_version" = []
  }
}

path "transit/rewrap/mosaic-llm-config" {
  capabilities = ["update"]
}

path "transit/keys/mosaic-llm-config" {
  capabilities = ["read"]
}

path "transit/keys/mosaic-llm-config/rotate" {
  capabilities = ["update"]
}

path "transit/keys/mosaic-llm-config/config" {
  capabilities = ["update"]
  # only the minimum versions: not exportable, not deletion_allowed
  allowed_parameters = {
    "min_decryption_version" = []
    "min_encryption_version" = []
  }
}

path "transit/keys/mosaic-llm-config/trim" {
  capabilities = ["update"]
  allowed_parameters = {
    "min_available_version" = []
  }
}

path "transit/rewrap/mosaic-federation" {
  capabilities = ["update"]
}

path "transit/keys/mosaic-federation" {
  capabilities = ["read"]
}

path "transit/keys/mosaic-federation/rotate" {
  capabilities = ["update"]
}

path "transit/keys/mosaic-federation/config" {
  capabilities = ["update"]
  # only the minimum versions: not exportable, not deletion_allowed
  allowed_parameters = {
    "min_decryption_version" = []
    "min_encryption_version" = []
  }
}

path "transit/keys/mosaic-federation/trim" {
  capabilities = ["update"]
  allowed_parameters = {
    "min_available_version" = []
  }
}
