"""Where: postcodes (format, store, importers), areas, locating what a person types, geocoding."""
