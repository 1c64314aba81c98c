"""Message wording: gettext catalogues, locale resolution, templates and SMS encoding."""
