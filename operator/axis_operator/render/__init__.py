"""Pure render functions: a spec and the operator settings in, child manifests out.

Nothing here talks to a cluster, so every child and every option is tested directly
(``tests/operator/test_render*.py``) and checked against the Kubernetes and Istio schemas.
"""

from axis_operator.render.common import Owner, spec_hash
from axis_operator.render.connector import render_connector
from axis_operator.render.strategy import render_strategy

__all__ = ["Owner", "render_connector", "render_strategy", "spec_hash"]
