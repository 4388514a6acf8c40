"""The Kubernetes API calls the handlers make: server-side apply, get, list, delete.

Thin on purpose: the official client's ApiClient does auth, TLS and (de)serialisation; this maps
the few kinds the operator manages to their URLs so one ``apply`` serves them all.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

FIELD_MANAGER = "axis-operator"

# (apiVersion, kind) → plural; every kind here is namespaced.
PLURALS: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Service"): "services",
    ("v1", "ServiceAccount"): "serviceaccounts",
    ("v1", "Event"): "events",
    ("apps/v1", "Deployment"): "deployments",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicies",
    ("networking.istio.io/v1", "ServiceEntry"): "serviceentries",
    ("networking.istio.io/v1", "DestinationRule"): "destinationrules",
    ("networking.istio.io/v1", "VirtualService"): "virtualservices",
    ("trading.axis.io/v1alpha1", "TradingStrategy"): "tradingstrategies",
    ("trading.axis.io/v1alpha1", "ExchangeConnector"): "exchangeconnectors",
}


def collection_path(api_version: str, kind: str, namespace: str) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{PLURALS[(api_version, kind)]}"


class Kube:
    """Synchronous calls (the handlers run them in a thread)."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.api = api_client

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        request = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*request)
        response.read()
        if not 200 <= response.status < 300:
            raise ApiException(http_resp=response)
        data: dict[str, Any] = json.loads(response.data or b"{}")
        return data

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply: creates the object or brings the fields we own to the manifest
        (fields we no longer render are removed), taking over conflicting fields."""
        meta = manifest["metadata"]
        base = collection_path(manifest["apiVersion"], manifest["kind"], meta["namespace"])
        try:
            return self._call(
                "PATCH",
                f"{base}/{meta['name']}",
                manifest,
                [("fieldManager", FIELD_MANAGER), ("force", "true")],
                "application/apply-patch+yaml",
            )
        except ApiException as exc:
            if exc.status != 404:  # an API server creates on apply; simpler emulators do not
                raise
        return self._call("POST", base, manifest, [("fieldManager", FIELD_MANAGER)])

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", f"{collection_path(api_version, kind, namespace)}/{name}")
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call(
            "GET", collection_path(api_version, kind, namespace)
        ).get("items", [])
        return items

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        try:
            self._call("DELETE", f"{collection_path(api_version, kind, namespace)}/{name}")
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        meta = manifest["metadata"]
        base = collection_path(manifest["apiVersion"], manifest["kind"], meta["namespace"])
        return self._call("POST", base, manifest)
