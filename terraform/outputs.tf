output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name <this>)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA bundle of the API endpoint."
  value       = module.eks.cluster_certificate_authority_data
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the cluster."
  value       = "aws eks update-kubeconfig --name ${module.eks.cluster_name} --region ${var.region}"
}

output "vault_kubernetes_auth_path" {
  description = "Vault auth mount the gateways log in through (AXIS_VAULT_ADDR + this path)."
  value       = vault_auth_backend.kubernetes.path
}

output "gateway_vault_roles" {
  description = "Vault role per connector: set it as credentials.vault.role of that ExchangeConnector."
  value       = { for name, role in vault_kubernetes_auth_backend_role.gateway : name => role.role_name }
}

output "connector_kv_paths" {
  description = "Where to write each connector's keys: vault kv put -mount=<mount> <path> apiKey=… secret=…"
  value       = { for name in var.connectors : name => "${vault_mount.kv.path}/axis/${name}" }
}

output "transit_key_name" {
  description = "Transit key that encrypts stored exchange credentials."
  value       = vault_transit_secret_backend_key.credentials.name
}

output "argocd_namespace" {
  description = "Namespace of Argo CD."
  value       = helm_release.argocd.namespace
}

output "argocd_root_application" {
  description = "The root Application of this environment's app-of-apps."
  value       = "axis-root-${var.environment}"
}
