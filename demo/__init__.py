"""The default hall (`hall demo`) and the picture tools: they start whole halls."""
