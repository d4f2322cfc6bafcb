"""Files hardstack ships to hosts (read as text by `hardstack.core.artefacts`), and the RDS table
(`rds_postgres.json`, read by `hardstack.core.rds_catalog`); nothing here is imported."""
