"""The legal timeline and citations: facts about the law that do not depend on a request."""
