"""What each SIGAP layer is: models, vocabularies and the layer registry. Never imports Flask."""
