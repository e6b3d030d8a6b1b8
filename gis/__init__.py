"""SIGAP spatial computation: settings, database, local PostGIS cluster, routing. No Flask."""
