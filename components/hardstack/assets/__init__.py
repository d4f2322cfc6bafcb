"""Files hardstack ships to hosts (read as text by `hardstack.core.artefacts`; nothing here is imported)."""
