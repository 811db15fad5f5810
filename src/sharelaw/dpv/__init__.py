"""Decisions in the W3C Data Privacy Vocabulary (DPV): ``decision_jsonld(decision)``.

The mapping from sharelaw's vocabulary to DPV is data, one table (``mapping.yaml``) naming
the DPV release it was made for; docs/dpv.md explains it. Requests may spell vocabulary
values as the same IRIs (``sharelaw.vocab`` asks ``table.code_for_iri``).
"""

from .jsonld import decision_jsonld, legal_bases
from .table import Table, table

__all__ = ["Table", "decision_jsonld", "legal_bases", "table"]
