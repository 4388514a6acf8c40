# Argo CD, then the root application of this environment's app-of-apps (argocd/<environment>):
# from there Argo CD installs Istio, KubeRay, Vault's injector, the Prometheus stack, the AXIS
# chart and the strategies folder.

resource "helm_release" "argocd" {
  name             = "argocd"
  repository       = "https://argoproj.github.io/argo-helm"
  chart            = "argo-cd"
  version          = var.argocd_chart_version
  namespace        = "argocd"
  create_namespace = true

  values = [yamlencode({
    configs = {
      params = { "server.insecure" = false }
    }
    server = {
      replicas = var.environment == "prod" ? 2 : 1
    }
    repoServer = {
      replicas = var.environment == "prod" ? 2 : 1
    }
  })]

  depends_on = [module.eks]
}

resource "helm_release" "argocd_root" {
  name       = "argocd-root"
  repository = "https://argoproj.github.io/argo-helm"
  chart      = "argocd-apps"
  version    = var.argocd_apps_chart_version
  namespace  = helm_release.argocd.namespace

  values = [yamlencode({
    applications = {
      "axis-root-${var.environment}" = {
        namespace = helm_release.argocd.namespace
        project   = "default"
        source = {
          repoURL        = var.gitops_repo_url
          targetRevision = var.gitops_revision
          path           = "argocd/${var.environment}/apps"
        }
        destination = {
          server    = "https://kubernetes.default.svc"
          namespace = helm_release.argocd.namespace
        }
        syncPolicy = {
          automated   = { prune = true, selfHeal = true }
          syncOptions = ["CreateNamespace=true"]
        }
      }
    }
  })]
}
