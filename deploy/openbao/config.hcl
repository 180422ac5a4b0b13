# OpenBao server for Mosaic: file storage on a volume, TLS on 8200 (certificates from gen-tls.sh).
storage "file" {
  path = "/openbao/file"
}

listener "tcp" {
  address       = "0.0.0.0:8200"
  tls_cert_file = "/openbao/tls/server.crt"
  tls_key_file  = "/openbao/tls/server.key"
}

api_addr      = "https://openbao:8200"
disable_mlock = true
ui            = false
