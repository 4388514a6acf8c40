"""The AXIS Kubernetes operator (kopf): TradingStrategy and ExchangeConnector resources.

Its handlers and render functions arrive with the operator issue; the package exists now so
the source root and the distribution's layout are fixed from the first commit.
"""
