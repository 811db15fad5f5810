"""Reasoning about rule sets rather than deciding requests.

- ``solver``: an exact finite-domain solver over the fact vocabulary, with the
  constraints every valid request satisfies (``VALIDITY``);
- ``static``: the static analyses (unreachable and shadowed rules, contradictions,
  date gaps, protocols that may widen national law);
- ``check``: ``sharelaw check``, every static check of rule and protocol files as one
  report with stable codes and ``file:line``;
- ``prove``: ``sharelaw prove``, the invariants over the classes of requests the rules
  tell apart, with counterexamples.

Imports point one way: this package reads ``rules`` and (for ``prove``) ``engine``;
nothing below it imports it.
"""
