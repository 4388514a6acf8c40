# Vault: Kubernetes auth for the gateways, one KV v2 path and one read-only policy per
# connector, and a transit key that encrypts credentials the API stores.

resource "vault_auth_backend" "kubernetes" {
  type        = "kubernetes"
  path        = "kubernetes-${local.name}"
  description = "AXIS gateways of ${local.name}"
}

resource "vault_kubernetes_auth_backend_config" "cluster" {
  backend            = vault_auth_backend.kubernetes.path
  kubernetes_host    = module.eks.cluster_endpoint
  kubernetes_ca_cert = base64decode(module.eks.cluster_certificate_authority_data)
}

resource "vault_mount" "kv" {
  path        = var.vault_kv_mount
  type        = "kv"
  options     = { version = "2" }
  description = "Exchange API keys, one path per ExchangeConnector"
}

resource "vault_mount" "transit" {
  path        = var.vault_transit_mount
  type        = "transit"
  description = "Encryption of stored exchange credentials"
}

resource "vault_transit_secret_backend_key" "credentials" {
  backend            = vault_mount.transit.path
  name               = "axis-credentials"
  type               = "aes256-gcm96"
  deletion_allowed   = false
  auto_rotate_period = 2592000 # 30 days
}

# A gateway reads its own connector's keys and nothing else.
resource "vault_policy" "gateway" {
  for_each = toset(var.connectors)

  name   = "axis-gateway-${each.key}"
  policy = <<-EOT
    path "${vault_mount.kv.path}/data/axis/${each.key}" {
      capabilities = ["read"]
    }
    path "${vault_mount.kv.path}/metadata/axis/${each.key}" {
      capabilities = ["read"]
    }
  EOT
}

resource "vault_kubernetes_auth_backend_role" "gateway" {
  for_each = toset(var.connectors)

  backend                          = vault_auth_backend.kubernetes.path
  role_name                        = "axis-gateway-${each.key}"
  bound_service_account_names      = ["${each.key}-gateway"]
  bound_service_account_namespaces = [var.trading_namespace]
  token_policies                   = [vault_policy.gateway[each.key].name]
  token_ttl                        = 3600
  token_max_ttl                    = 14400
}

# The API encrypts and decrypts credentials with the transit key; it never reads the KV paths.
resource "vault_policy" "api" {
  name   = "axis-api"
  policy = <<-EOT
    path "${vault_mount.transit.path}/encrypt/${vault_transit_secret_backend_key.credentials.name}" {
      capabilities = ["update"]
    }
    path "${vault_mount.transit.path}/decrypt/${vault_transit_secret_backend_key.credentials.name}" {
      capabilities = ["update"]
    }
  EOT
}

resource "vault_kubernetes_auth_backend_role" "api" {
  backend                          = vault_auth_backend.kubernetes.path
  role_name                        = "axis-api"
  bound_service_account_names      = ["axis-api"]
  bound_service_account_namespaces = [var.platform_namespace]
  token_policies                   = [vault_policy.api.name]
  token_ttl                        = 3600
}
