"""warroom.yaml `actions`: where executable runbook steps may send requests, and how much of
an answer is read."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.actions import HostPolicy


class ActionsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Hosts an `http` action may call: `deploy.example.com`, `*.example.com` (its subdomains),
    # `*` (any). None by default: an http action is refused until its host is listed.
    allowed_hosts: list[str] = Field(default_factory=list)
    # Internal addresses (loopback, link-local, private) an action may reach: CIDR networks.
    allowed_networks: list[str] = Field(default_factory=list)
    max_answer_bytes: int = Field(default=65536, ge=1024, le=10 * 1024 * 1024)

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            if not host or any(c in host for c in "/: ") or host.count("*") > 1:
                raise ValueError(f"{host!r} is not a host name (like deploy.example.com or *.example.com)")
        return [h.lower() for h in value]

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network like 10.0.0.0/8") from None
        return value

    @property
    def policy(self) -> HostPolicy:
        return HostPolicy(
            tuple(self.allowed_hosts),
            tuple(ipaddress.ip_network(n, strict=False) for n in self.allowed_networks),
        )
