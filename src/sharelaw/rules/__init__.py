"""The law as data: the rule-file format, its loader, the facts rules see, and two evaluators."""
