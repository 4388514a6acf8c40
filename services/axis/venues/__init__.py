"""Venues: the Venue protocol, the shared fill rules and the simulated exchange."""
