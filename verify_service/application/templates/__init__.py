"""Message templates: the Templates resource and the choice of a start's wording."""
