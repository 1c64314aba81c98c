"""Key names. Every key one script touches shares a hash tag, so Redis Cluster keeps it in
one slot: a verification's tag is `{service sid:destination tag}`; services share `{svc}`."""

from __future__ import annotations

from dataclasses import dataclass

from verify_service.application.ports import VerificationRef


@dataclass(frozen=True, slots=True)
class KeySpace:
    prefix: str = "vs"

    def service(self, sid: str) -> str:
        return f"{self.prefix}:{{svc}}:{sid}"

    def service_index(self) -> str:
        return f"{self.prefix}:{{svc}}:index"

    def service_counter(self) -> str:
        return f"{self.prefix}:{{svc}}:seq"

    def verification(self, ref: VerificationRef) -> str:
        return f"{self.prefix}:v:{{{ref.service_sid}:{ref.tag}}}"
