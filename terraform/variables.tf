variable "environment" {
  description = "Environment name; selects the Argo CD app-of-apps folder argocd/<environment>."
  type        = string

  validation {
    condition     = contains(["staging", "prod"], var.environment)
    error_message = "environment must be staging or prod (the folders under argocd/)."
  }
}

variable "region" {
  description = "AWS region of the cluster."
  type        = string
  default     = "eu-west-1"
}

variable "cluster_name" {
  description = "EKS cluster name."
  type        = string
  default     = "axis"
}

variable "kubernetes_version" {
  description = "EKS control plane version."
  type        = string
  default     = "1.32"
}

variable "vpc_cidr" {
  description = "CIDR of the cluster VPC."
  type        = string
  default     = "10.20.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones for subnets (three for an HA control plane and node pools)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

variable "cpu_instance_types" {
  description = "Instance types of the CPU node pool (operator, API, workers, gateways, Ray head)."
  type        = list(string)
  default     = ["m6i.xlarge", "m6a.xlarge"]
}

variable "cpu_node_count" {
  description = "Desired, minimum and maximum nodes of the CPU pool."
  type = object({
    desired = number
    min     = number
    max     = number
  })
  default = {
    desired = 3
    min     = 3
    max     = 10
  }
}

variable "gpu_instance_types" {
  description = "Instance types of the GPU node pool (Ray Serve model workers)."
  type        = list(string)
  default     = ["g5.xlarge"]
}

variable "gpu_node_count" {
  description = "Desired, minimum and maximum nodes of the GPU pool; it is tainted, so only pods tolerating nvidia.com/gpu land there."
  type = object({
    desired = number
    min     = number
    max     = number
  })
  default = {
    desired = 1
    min     = 0
    max     = 4
  }
}

variable "vault_address" {
  description = "Address of the Vault (or OpenBao) server Terraform configures."
  type        = string
}

variable "vault_kv_mount" {
  description = "Path of the KV v2 mount holding exchange keys."
  type        = string
  default     = "secret"
}

variable "vault_transit_mount" {
  description = "Path of the transit engine that encrypts stored credentials."
  type        = string
  default     = "transit"
}

variable "trading_namespace" {
  description = "Namespace of TradingStrategy and ExchangeConnector resources (and so of the gateways)."
  type        = string
  default     = "trading"
}

variable "platform_namespace" {
  description = "Namespace of the AXIS chart (operator, API, MLflow, models)."
  type        = string
  default     = "axis"
}

variable "connectors" {
  description = "ExchangeConnector names: each gets a KV v2 path axis/<name>, a policy reading only it, and a Kubernetes-auth role bound to its gateway's service account."
  type        = list(string)
  default     = ["binance-futures", "bybit-futures"]

  validation {
    condition     = alltrue([for name in var.connectors : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", name))])
    error_message = "connector names are Kubernetes object names (RFC 1123 labels)."
  }
}

variable "argocd_chart_version" {
  description = "Version of the argo-cd Helm chart."
  type        = string
  default     = "8.1.2"
}

variable "argocd_apps_chart_version" {
  description = "Version of the argocd-apps Helm chart that installs the root application."
  type        = string
  default     = "2.0.2"
}

variable "gitops_repo_url" {
  description = "Git repository Argo CD syncs from."
  type        = string
  default     = "https://github.com/axis-trading/axis.git"
}

variable "gitops_revision" {
  description = "Revision of the root application: main for staging, a release tag for prod."
  type        = string
  default     = "main"
}

variable "tags" {
  description = "Tags on every AWS resource."
  type        = map(string)
  default     = {}
}
