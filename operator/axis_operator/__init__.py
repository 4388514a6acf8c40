"""The AXIS Kubernetes operator: CRDs generated from the spec models, pure render functions
(spec → child manifests) and the kopf handlers that apply them and keep status current."""

GROUP = "trading.axis.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
