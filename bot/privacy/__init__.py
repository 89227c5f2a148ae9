"""Personal data: masked where it is not needed, kept no longer than promised."""
