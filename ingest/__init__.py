"""Getting outside data into PostGIS: readers, tag mapping, validation, bulk load. No Flask."""
